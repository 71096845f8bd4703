"""An XComRun as JSON-ready data and back: how runs move between processes (xdist) and into reports."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pytest_xcom.record.events import TriggerXComs, XComDelete, XComPull, XComPush

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun


def run_to_dict(run: XComRun, value_limit: int) -> dict[str, Any]:
    """``run`` as JSON-ready data; values become a repr cut at ``value_limit`` characters."""
    data = {f.name: getattr(run, f.name) for f in dataclasses.fields(run)}
    data["logical_date"] = run.logical_date.isoformat() if run.logical_date else None
    data["mapped_task_ids"] = sorted(run.mapped_task_ids)
    data["task_ids"] = list(run.task_ids)
    data["marked_success"] = list(run.marked_success)
    data["dependencies"] = [list(edge) for edge in run.dependencies]
    data["airflow_xcoms"] = sorted(list(pair) for pair in run.airflow_xcoms)
    data["pushes"] = [_push_dict(push, value_limit) for push in run.pushes]
    data["pulls"] = [dataclasses.asdict(pull) for pull in run.pulls]
    data["deletes"] = [dataclasses.asdict(delete) for delete in run.deletes]
    data["trigger_xcoms"] = [
        {**dataclasses.asdict(event), "xcoms": {k: _repr(v, value_limit) for k, v in event.xcoms.items()}}
        for event in run.trigger_xcoms
    ]
    data["failures"] = dict(run.failures)
    data["policy_violations"] = list(run.policy_violations)
    data["loops"] = {group_id: dict(shape) for group_id, shape in run.loops.items()}
    data["current_attempts"] = [[*where, attempt] for where, attempt in run.current_attempts.items()]
    return data


def run_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The XComRun fields ``run_to_dict`` wrote, rebuilt (older dicts without the newer fields too)."""
    fields = dict(data)
    fields["logical_date"] = datetime.fromisoformat(data["logical_date"]) if data["logical_date"] else None
    fields["mapped_task_ids"] = frozenset(data["mapped_task_ids"])
    fields["task_ids"] = tuple(data["task_ids"])
    fields["marked_success"] = tuple(data.get("marked_success", ()))
    fields["dependencies"] = tuple(tuple(edge) for edge in data.get("dependencies", ()))
    fields["airflow_xcoms"] = frozenset(tuple(pair) for pair in data.get("airflow_xcoms", ()))
    fields["pushes"] = [XComPush(**p) for p in data["pushes"]]
    fields["pulls"] = [XComPull(**p) for p in data["pulls"]]
    fields["deletes"] = [XComDelete(**d) for d in data["deletes"]]
    fields["trigger_xcoms"] = [TriggerXComs(**t) for t in data.get("trigger_xcoms", ())]
    fields["loops"] = dict(data.get("loops", {}))
    fields["current_attempts"] = {(t, m, i): a for t, m, i, a in data.get("current_attempts", ())}
    return fields


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _repr(value: Any, limit: int) -> str:
    try:
        return _cut(repr(value), limit)
    except Exception as exc:  # a user's __repr__ may raise: the report shows that instead
        return f"<repr failed: {type(exc).__name__}: {exc}>"[:limit]


def _push_dict(push: XComPush, limit: int) -> dict[str, Any]:
    data = {f.name: getattr(push, f.name) for f in dataclasses.fields(push)}
    for name in ("value", "stored", "pushed"):
        data[name] = _repr(data[name], limit)
    return data
