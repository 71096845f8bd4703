"""Suite-wide XCom policy: a size budget and strict best practices, checked on every run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_xcom.checks import rules
from pytest_xcom.errors import PolicyError, SizeError
from pytest_xcom.sizes import SizeLike, parse_size

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun

MARKER_ARGUMENTS = ("max_size", "strict")


@dataclass(frozen=True)
class Policy:
    """What every run in a test must respect; the default asks for nothing."""

    max_size: SizeLike | None = None
    strict: bool = False

    def rules(self) -> list[rules.Rule]:
        found: list[rules.Rule] = []
        if self.max_size is not None:
            found.append(rules.MaxSize(self.max_size))
        if self.strict:
            found += [rules.PlainJson(), rules.NoUnused(ignore_leaves=True, ignore_airflow=True), rules.NamedTaskIds()]
        return found

    def violations(self, run: XComRun) -> list[str]:
        """The assertion messages of every rule this run breaks (empty when it complies)."""
        return [message for rule in self.rules() if (message := rule.violation(run)) is not None]

    def describe(self) -> str:
        parts = [f"max_size={self.max_size!r}"] if self.max_size is not None else []
        return ", ".join([*parts, *(["strict"] if self.strict else [])])


def parse_strict(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise PolicyError(f"{where} must be true or false, not {value!r}")


def checked_size(value: Any, where: str) -> SizeLike | None:
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
