"""A canonical text of a value as a reader receives it, the same on every Airflow version.

Snapshots compare what a DAG sees, not the serialized form (Airflow 2's and 3's serializers wrap
the same value differently). The rendering is deterministic: dict keys and set members are
sorted, memory addresses are dropped from reprs. Types stay visible (a tuple is not a list, a
pendulum ``DateTime`` is not a ``datetime``), because a reader that gets another type sees a
change. Pure Python: no Airflow.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import json
import math
import re
from typing import Any

VALUE_PREVIEW = 100  # characters of the rendering a manifest keeps; the hash covers all of it
_MAX_DEPTH = 40  # deeper nesting (or a value that contains itself) renders as "..."
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def render(value: Any) -> str:
    """The canonical text of ``value`` (never raises: a failing ``repr`` renders as its error type)."""
    try:
        return _render(value, 0)
    except Exception as exc:  # a user's __repr__ or __iter__ may raise
        return f"<{type(value).__name__}: rendering failed with {type(exc).__name__}>"


def _render(value: Any, depth: int) -> str:
    if depth > _MAX_DEPTH:
        return "..."
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return json.dumps(value, ensure_ascii=False)
    if kind is float:
        return repr(value) if math.isfinite(value) else f"float({value!r})"
    if kind is list:
        return "[" + ", ".join(_render(item, depth + 1) for item in value) + "]"
    if kind is tuple:
        items = [_render(item, depth + 1) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if kind is dict:
        pairs = sorted((_render(k, depth + 1), _render(v, depth + 1)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if isinstance(value, (set, frozenset)):
        return f"{kind.__name__}({{{', '.join(sorted(_render(item, depth + 1) for item in value))}}})"
    if isinstance(value, enum.Enum):
        return f"{kind.__name__}.{value.name}"
    if isinstance(value, (datetime.date, datetime.time)):
        return f"{kind.__name__}({value.isoformat()})"  # pendulum and stdlib differ only by type name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(f"{f.name}={_render(getattr(value, f.name), depth + 1)}" for f in dataclasses.fields(value))
        return f"{kind.__name__}({fields})"
    return _ADDRESS.sub("", repr(value))


def preview(text: str, limit: int = VALUE_PREVIEW) -> str:
    """``text`` cut at ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def value_facts(value: Any, error: str | None) -> dict[str, str]:
    """What a manifest records of a received value: its type, a preview and a hash of the rendering.

    ``error`` is why reading the value back failed: readers met that error, so it is the value.
    """
    if error is not None:
        text = f"<read failed: {error.split(':', 1)[0]}>"  # the exception type: its text may hold paths or ids
        kind = "error"
    else:
        text = render(value)
        kind = type(value).__name__
    return {
        "value": preview(text),
        "value_type": kind,
        "value_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }
