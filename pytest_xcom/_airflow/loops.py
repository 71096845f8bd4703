"""Task loops (Airflow 3.4): ``@task_group(...).loop(max_iterations=, until=)``.

A loop group runs its tasks once per iteration; its gate (a task of the group, ``<group>.__loop_gate``
for a fixed count, else named after the ``until`` function) decides after each iteration whether
another one starts. Airflow tells a task instance its iteration in the run context it fetches at
start (``TIRunContext.loop.index``); the rows of the metadata DB keep it in the instance's region
(``dynamic_region``), never in ``map_index``. Before Airflow 3.4 there are no loops: every function
here answers "no loop".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOOP_DECISION_REASON_KEY = "_airflow_loop_decision_reason"  # written by the server on the gate


@dataclass(frozen=True)
class LoopShape:
    """One loop group of a DAG, as defined (not as it ran)."""

    group_id: str
    gate_task_id: str
    terminal_task_id: str
    max_iterations: int
    has_until: bool
    task_ids: tuple[str, ...]


def _loop_group_class() -> type | None:
    try:
        from airflow.sdk.definitions._internal.loop import (  # type: ignore[import-not-found, unused-ignore]
            LoopTaskGroup,
        )
    except ImportError:  # Airflow before 3.4 (and Airflow 2): no task loops
        return None
    return LoopTaskGroup  # type: ignore[no-any-return, unused-ignore]


def loop_shapes(dag: Any) -> dict[str, LoopShape]:
    """Every loop group of ``dag`` by group id (empty before Airflow 3.4)."""
    group_class = _loop_group_class()
    if group_class is None:
        return {}
    shapes: dict[str, LoopShape] = {}
    groups: dict[str, Any] = dag.task_group.get_task_group_dict()
    for group_id, group in groups.items():
        if type(group) is group_class or issubclass(type(group), group_class):
            shapes[group_id] = LoopShape(
                group_id=group_id,
                gate_task_id=group.gate_task_id,
                terminal_task_id=group.terminal_task_id,
                max_iterations=int(group.max_iterations),
                has_until=bool(group.has_until),
                task_ids=tuple(sorted(task.task_id for task in group)),
            )
    return shapes


def enclosing_loops(dag: Any) -> dict[str, str]:
    """task_id -> id of the loop group the task runs in, for every task inside a loop."""
    return {task_id: shape.group_id for shape in loop_shapes(dag).values() for task_id in shape.task_ids}


def run_context_iteration(ti: Any) -> int | None:
    """The loop iteration of a running task instance (its run context's ``loop.index``), or None."""
    context = getattr(ti, "_ti_context_from_server", None)
    loop = getattr(context, "loop", None)
    index = getattr(loop, "index", None)
    return int(index) if index is not None else None


def loop_decision_reason(msg: Any) -> str | None:
    """The ``LoopDecision`` reason a gate's terminal-state message carries (the server stores it as an XCom)."""
    decision = getattr(msg, "loop_decision", None)
    reason = getattr(decision, "reason", None)
    return reason if isinstance(reason, str) else None


def region_iterations(dag: Any, run_id: str) -> dict[tuple[str, int], int]:
    """(region id, region index) -> loop iteration of the task instances of a run that ran in a loop."""
    if not enclosing_loops(dag):
        return {}
    from airflow.utils.session import create_session

    with create_session() as session:
        found = instance_iterations(dag, dag.dag_id, run_id, session)
    return {(str(region_id), int(index)): iteration for (region_id, index), iteration in found.items()}


def instance_iterations(dag: Any, dag_id: str, run_id: str, session: Any) -> dict[Any, int]:
    """(region_id, region_index) -> loop iteration of every task instance region of a run inside a loop.

    Airflow's own ``loop_position`` walks a region up to the loop that holds it: a task directly in
    the loop has the loop's region and its iteration as index; a mapped task in the loop has a
    region of its own whose parent index is the iteration.
    """
    loops = enclosing_loops(dag)
    if not loops:
        return {}
    from airflow.models.dynamic_region import (  # type: ignore[import-not-found, unused-ignore]
        DynamicRegion,
        loop_position,
    )
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    regions = DynamicRegion.load_for_run(dag_id, run_id, session=session)
    rows = session.execute(
        select(TaskInstance.task_id, TaskInstance.region_id, TaskInstance.region_index)
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        .execution_options(include_all_attempts=True)
    ).all()
    found: dict[Any, int] = {}
    for task_id, region_id, region_index in rows:
        group_id = loops.get(task_id)
        if group_id is None:
            continue
        position = loop_position(regions, region_id, region_index, group_id)
        if position is not None:
            found[(region_id, region_index)] = position[1]
    return found
