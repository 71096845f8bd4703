"""Size limits: parsing ("48KB", "64KiB", presets) and human-readable formatting.

A size is a whole number of bytes. A number with a fraction is fine when it makes whole bytes
with its unit, computed exactly (no float rounding): ``"1.5KB"`` is 1,500, ``"1.5KiB"`` 1,536,
``"0.3KB"`` 300, ``"4.35MB"`` 4,350,000; ``"1.5B"`` or ``"1.0001KB"`` (1,000.1 bytes) is a
:class:`SizeError`, as is a negative size (``-1``, ``"-1"``, ``"-2KB"``).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any, Literal

from pytest_xcom.errors import SizeError

SizeLike = int | str
UnitSystem = Literal["binary", "decimal"]

# Where the preset numbers come from (docs/reference/sizes.md repeats this):
# - airflow: Airflow 1.x/2.x's MAX_XCOM_SIZE constant, 48 KiB + 192 bytes = 49,344 bytes, the
#   "48KB" limit people still quote.
# - mysql: a MySQL/MariaDB BLOB/TEXT column holds at most 2**16 - 1 bytes, what XCom's value
#   column held on MySQL before Airflow moved it to a JSON/LONGBLOB type.
# - postgres: the largest value a PostgreSQL JSONB datum can hold is 255 MiB - 1 byte
#   (JENTRY_OFFLENMASK = 0x0FFFFFFF, 268,435,455 bytes).
# - sqlite: SQLite's default SQLITE_MAX_LENGTH, the largest string or BLOB, is 1,000,000,000 bytes.
PRESETS: dict[str, int] = {
    "airflow": 49_344,
    "mysql": 65_535,
    "postgres": 268_435_455,
    "sqlite": 1_000_000_000,
}

_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}

_SIZE_RE = re.compile(r"^\s*(?P<sign>[-+]?)\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-zA-Z]*)\s*$")


def parse_size(limit: SizeLike) -> int:
    """Turn ``limit`` into bytes: an int, a string with a unit, or a preset name."""
    if isinstance(limit, bool):
        raise SizeError(f"size limit must be an int or a string such as '48KB', not {limit!r}")
    if isinstance(limit, int):
        if limit < 0:
            raise SizeError(f"size limit must not be negative, got {limit}")
        return limit
    if not isinstance(limit, str):
        raise SizeError(f"size limit must be an int or a string such as '48KB', not {limit!r}")
    preset = PRESETS.get(limit.strip().lower())
    if preset is not None:
        return preset
    match = _SIZE_RE.match(limit)
    if match is None:
        raise SizeError(_unknown_size_message(limit))
    unit = match.group("unit").lower() or "b"
    if unit not in _UNITS:
        raise SizeError(_unknown_size_message(limit))
    size = Fraction(match.group("number")) * _UNITS[unit]  # exact: Fraction("0.3") * 1000 == 300
    if match.group("sign") == "-" and size:
        raise SizeError(f"size limit must not be negative, got {limit!r}; {_accepted()}")
    if size.denominator != 1:
        with localcontext() as exact:
            exact.prec = 60  # the denominator divides 10**decimals: the quotient is exact
            bytes_ = format(Decimal(size.numerator) / size.denominator, "f")
        raise SizeError(
            f"size limit {limit!r} is {bytes_} bytes: a size must be a whole number of bytes "
            "(a fraction is fine when it makes whole bytes: '1.5KB' is 1500, '1.5KiB' 1536)"
        )
    return int(size)


def _accepted() -> str:
    units = ", ".join(u.upper().replace("I", "i") for u in _UNITS)
    presets = ", ".join(repr(p) for p in PRESETS)
    return (
        f"use bytes (e.g. 49344), a number with a unit ({units}; e.g. '48KB', '64KiB', '1.5MB') "
        f"or a preset ({presets})"
    )


def _unknown_size_message(limit: str) -> str:
    return f"cannot read size limit {limit!r}: {_accepted()}"


# The unit system of each preset, as its number reads best: 48.2 KiB, 64.0 KiB, 256.0 MiB, 1.0 GB.
_PRESET_UNITS: dict[str, UnitSystem] = {
    "airflow": "binary",
    "mysql": "binary",
    "postgres": "binary",
    "sqlite": "decimal",
}
_DECIMAL_UNITS = ("kb", "mb", "gb")


def unit_system(limit: SizeLike) -> UnitSystem:
    """The unit system ``limit`` was written in: "decimal" for "1MB", "binary" for "1MiB".

    Plain bytes (``49344``, ``"512"``, ``"512B"``) read in binary units, as every other size the
    harness shows.
    """
    if isinstance(limit, str):
        text = limit.strip().lower()
        if text in _PRESET_UNITS:
            return _PRESET_UNITS[text]
        if text.endswith(_DECIMAL_UNITS):
            return "decimal"
    return "binary"


def human(size: int | None, units: UnitSystem = "binary") -> str:
    """Bytes as people read them: '812 B', '47.9 KiB', '1.2 MiB'; with ``units="decimal"``
    '47.9 KB', '1.2 MB' (powers of 1000). 'unknown' for None.
    """
    if size is None:
        return "unknown"
    step, names = (1000, ("KB", "MB", "GB")) if units == "decimal" else (1024, ("KiB", "MiB", "GiB"))
    if size < step:
        return f"{size} B"
    value = float(size)
    for unit in names:
        value /= step
        if value < step or unit == names[-1]:
            return f"{value:.1f} {unit}"
    return f"{size} B"  # pragma: no cover - loop always returns


def json_size(payload: Any) -> int:
    """Bytes of ``payload`` as a JSON column holds it (json.dumps with default settings)."""
    return len(json.dumps(payload).encode("utf-8"))
