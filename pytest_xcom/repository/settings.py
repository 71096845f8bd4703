"""What ``pytest_xcom_dag_run(dag, path)`` returns for a DAG, checked before anything runs.

A dict of ``xcom.run()`` keyword arguments, plus ``expect`` (the run state to expect) and
``marks`` (pytest marks for the DAG's item); ``None`` for a DAG whose import alone is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_xcom.errors import XComTypeError, XComValueError

RUN_KEYS = ("logical_date", "conf", "backend", "backend_options", "freeze_time", "tasks", "upstream")
EXTRA_KEYS = ("expect", "marks")
EXPECTED_STATES = ("success", "failed")
HOOK = "pytest_xcom_dag_run(dag, path)"


@dataclass(frozen=True)
class DagRunSettings:
    """How one DAG's item runs it."""

    run_kwargs: dict[str, Any] = field(default_factory=dict)
    expect: str = "success"
    marks: tuple[pytest.Mark, ...] = ()


def settings_from(value: Any, dag_id: str, where: str) -> DagRunSettings | None:
    """``value`` returned by the hook for DAG ``dag_id`` of file ``where``, checked (None: import only)."""
    if value is None:
        return None
    about = f"{HOOK} returned for DAG {dag_id!r} ({where})"
    if not isinstance(value, Mapping):
        raise XComTypeError(
            f"{about} a {type(value).__name__}; it must return a dict of xcom.run() keyword arguments "
            "(plus expect and marks), or None to check the DAG's import only"
        )
    unknown = sorted(str(key) for key in value if key not in RUN_KEYS + EXTRA_KEYS)
    if unknown:
        raise XComValueError(
            f"{about} the unknown key(s) {', '.join(repr(k) for k in unknown)}; it accepts xcom.run()'s "
            f"keyword arguments ({', '.join(sorted(RUN_KEYS))}), expect ({' or '.join(EXPECTED_STATES)}) and "
            "marks (a list of pytest marks)"
        )
    expect = value.get("expect", "success")
    if expect not in EXPECTED_STATES:
        raise XComValueError(f"{about} expect={expect!r}; the run state to expect is one of {EXPECTED_STATES}")
    return DagRunSettings(
        run_kwargs={key: value[key] for key in RUN_KEYS if key in value},
        expect=expect,
        marks=_marks(value.get("marks", ()), about),
    )


def _marks(value: Any, about: str) -> tuple[pytest.Mark, ...]:
    if isinstance(value, (pytest.MarkDecorator, pytest.Mark)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise XComTypeError(
            f"{about} marks={value!r}; give a list of pytest marks, e.g. [pytest.mark.skip(reason=...)]"
        )
    found: list[pytest.Mark] = []
    for mark in value:
        mark = getattr(mark, "mark", mark)  # a MarkDecorator (pytest.mark.x(...)) holds its Mark
        if not isinstance(mark, pytest.Mark):
            raise XComTypeError(
                f"{about} {mark!r} among its marks; each must be a pytest mark, e.g. pytest.mark.skip(reason=...)"
            )
        found.append(mark)
    return tuple(found)
