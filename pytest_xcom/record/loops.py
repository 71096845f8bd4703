"""Task loops in the record (Airflow 3.4): which loop a task runs in, which iteration a query
means, and how a loop ran (``XComRun.loop``). Pure Python: no Airflow."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from pytest_xcom.errors import XComLookupError
from pytest_xcom.record.events import RETURN_KEY, instance_label
from pytest_xcom.record.views import XComLoop

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun


def loop_of(run: XComRun, task_id: str) -> str | None:
    """The id of the task loop ``task_id`` runs in, or None."""
    for group_id, shape in run.loops.items():
        if task_id in shape["tasks"]:
            return group_id
    return None


def iterations_of(run: XComRun, task_id: str) -> int:
    """How many loop iterations ``task_id`` has task instances in (0 outside loops)."""
    states = run.task_states.get(task_id)
    return len(states) if loop_of(run, task_id) is not None and isinstance(states, list) else 0


def resolve_iteration(run: XComRun, task_id: str, iteration: int | None) -> int | None:
    """The iteration a query means: as given inside a loop, the last one when None; None outside."""
    __tracebackhide__ = True
    if loop_of(run, task_id) is None:
        if iteration is not None:
            raise XComLookupError(
                f"task {task_id!r} is not inside a task loop, so it has no iteration {iteration}; "
                f"leave iteration= out (loops in {run.dag_id!r}: {', '.join(sorted(run.loops)) or 'none'})"
            )
        return None
    count = iterations_of(run, task_id)
    if iteration is None:
        return count - 1 if count else None
    if not 0 <= iteration < max(count, 1):
        raise XComLookupError(
            f"task {task_id!r} ran {count} loop iteration(s) (0 to {count - 1}), so there is no iteration {iteration}"
        )
    return iteration


def build_loop(run: XComRun, group_id: str) -> XComLoop:
    """How the task loop ``group_id`` ran: iterations, the terminal task's values, the gate's decisions."""
    __tracebackhide__ = True
    shape = run.loops.get(group_id)
    if shape is None:
        close = difflib.get_close_matches(group_id, list(run.loops), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise XComLookupError(
            f"{group_id!r} is not a task loop of DAG {run.dag_id!r}{hint} "
            f"Its loops are: {', '.join(sorted(run.loops)) or 'none'}"
        )
    gate, terminal = shape["gate"], shape["terminal"]
    states = list(run.task_states.get(gate) or [])
    standing = run.effective_pushes()
    values = [
        p.value
        for p in sorted(standing, key=lambda p: (p.iteration or 0, p.map_index))
        if p.task_id == terminal and p.key == RETURN_KEY and p.iteration is not None
    ]
    reasons = {p.iteration: p.value for p in standing if p.task_id == gate and p.source == "airflow"}
    return XComLoop(
        group_id=group_id,
        gate_task_id=gate,
        terminal_task_id=terminal,
        max_iterations=shape["max_iterations"],
        values=values,
        states=states,
        reasons=[reasons.get(i) for i in range(len(states))],
        stopped_by=_stopped_by(run, shape, states),
    )


def _stopped_by(run: XComRun, shape: dict[str, Any], states: list[Any]) -> str:
    """Why the loop ended: an ``until`` gate succeeds only when it said stop; a fixed-count gate
    succeeds at the cap; an ``until`` gate still saying "go on" at the cap fails the loop."""
    last = states[-1] if states else None
    if last == "success":
        return "until" if shape["until"] else "max_iterations"
    failure = run.failures.get(instance_label(shape["gate"], -1, len(states) - 1), "")
    if last == "failed" and len(states) == shape["max_iterations"] and "LoopMaxIterationsExceeded" in failure:
        return "max_iterations"
    return "failed"
