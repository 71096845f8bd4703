"""Suite-wide XCom policy: a size budget and strict best practices, checked on every run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from pytest_xcom import assertions
from pytest_xcom.sizes import SizeError, SizeLike, parse_size

if TYPE_CHECKING:
    from pytest_xcom.record import XComRun

MARKER_ARGUMENTS = ("max_size", "strict")


class PolicyError(ValueError):
    """A policy setting (option, ini value or marker argument) that cannot be used."""


@dataclass(frozen=True)
class Policy:
    """What every run in a test must respect; the default asks for nothing."""

    max_size: Optional[SizeLike] = None
    strict: bool = False

    @property
    def max_size_bytes(self) -> Optional[int]:
        return None if self.max_size is None else parse_size(self.max_size)

    def violations(self, run: XComRun) -> list[str]:
        """The assertion messages of every rule this run breaks (empty when it complies)."""
        found = []
        limit = self.max_size_bytes
        if limit is not None:
            offenders = assertions.max_size_offenders(run, limit)
            if offenders:
                found.append(assertions.max_size_message(
                    run, offenders, limit if self.max_size is None else self.max_size, limit, stored=False
                ))
        if self.strict:
            if assertions.json_offenders(run):
                found.append(assertions.json_message(assertions.json_offenders(run)))
            # A leaf task's return value has no task that could read it: strict mode lets it be
            # (it shows in the UI as the task's result); assert_no_unused() still reports it.
            unused = assertions.unused_pushes(run, ignore=assertions.leaf_return_values(run))
            if unused:
                found.append(assertions.unused_message(unused))
            implicit = assertions.implicit_pulls(run)
            if implicit:
                found.append(assertions.implicit_pulls_message(implicit))
        return found


def parse_strict(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise PolicyError(f"{where} must be true or false, not {value!r}")


def checked_size(value: Any, where: str) -> Optional[SizeLike]:
    if value is None or value == "":
        return None
    try:
        parse_size(value)
    except SizeError as exc:
        raise PolicyError(f"{where}: {exc}") from None
    return value  # type: ignore[no-any-return]


def from_marker(base: Policy, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Policy:
    """The suite policy overridden by an ``xcom_policy`` marker's arguments."""
    if args:
        raise PolicyError(
            "@pytest.mark.xcom_policy takes keyword arguments only "
            f"({', '.join(MARKER_ARGUMENTS)}), got positional {args!r}"
        )
    unknown = sorted(set(kwargs) - set(MARKER_ARGUMENTS))
    if unknown:
        raise PolicyError(
            f"@pytest.mark.xcom_policy got unknown argument(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(MARKER_ARGUMENTS)}"
        )
    max_size = base.max_size
    if "max_size" in kwargs:
        max_size = checked_size(kwargs["max_size"], "@pytest.mark.xcom_policy(max_size=...)")
    strict = base.strict
    if "strict" in kwargs:
        strict = parse_strict(kwargs["strict"], "@pytest.mark.xcom_policy(strict=...)")
    return Policy(max_size=max_size, strict=strict)
