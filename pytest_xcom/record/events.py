"""The events of a run's XCom traffic: pushes, reads and deletes. Pure data: no Airflow.

Every event carries ``seq``, its place in the run's one ordered log, and ``try_number``, the
attempt of the task instance that caused it; "what stands at the end of the run" is derived from
that order (see :meth:`XComRun.effective_pushes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RETURN_KEY = "return_value"


def instance_label(task_id: str, map_index: int | None) -> str:
    """``task[2]`` for a mapped task instance, ``task`` otherwise: how every report names one."""
    return f"{task_id}[{map_index}]" if map_index is not None and map_index >= 0 else task_id


@dataclass(frozen=True)
class XComPush:
    """One XCom written by a task instance (or given by the test, or by a trigger event).

    ``value`` is what a reader gets (the backend's ``deserialize_value`` of the stored row);
    ``pushed`` is the object the task pushed. ``size`` is None when Airflow's serializer cannot
    serialize ``pushed`` (the reason is in ``size_error``): the backend may still have stored it.
    """

    task_id: str
    map_index: int
    key: str
    value: Any
    size: int | None
    stored: Any
    stored_size: int
    offloaded: bool
    json_serializable: bool
    type_name: str = ""
    sha256: str = ""
    pushed: Any = None
    round_trips: bool = True
    size_error: str | None = None
    value_error: str | None = None
    try_number: int = 1
    given: bool = False
    source: str = "task"
    seq: int = 0

    @property
    def label(self) -> str:
        return f"{instance_label(self.task_id, self.map_index)} key {self.key!r}"

    @property
    def counted_size(self) -> int:
        """``size`` for totals and rankings: 0 when the serialized size is unknown."""
        return self.size if self.size is not None else 0


@dataclass(frozen=True)
class XComPull:
    """One XCom read by a task instance (``kind``: "explicit" or "argument")."""

    task_id: str
    map_index: int
    source_task_id: str
    source_map_index: int | None
    key: str
    kind: str
    found: bool
    task_ids_explicit: bool = True
    received_type: str | None = None  # type of what the read handed to the task (None: lazy)
    # The stored row's reference (an object-store URI, say) when the read handed the task that
    # instead of the value: the backend could not fetch the object when this task read it.
    received_reference: str | None = None
    try_number: int = 1
    source_dag_id: str = ""
    include_prior_dates: bool = False
    seq: int = 0

    def reads(self, push: XComPush, dag_id: str = "") -> bool:
        """Whether this read found ``push`` of DAG ``dag_id`` (a read of every map index finds each).

        A read of another DAG's XComs (``xcom_pull(dag_id=...)``) never reads this run's pushes.
        """
        return (
            self.found
            and (not dag_id or not self.source_dag_id or self.source_dag_id == dag_id)
            and self.source_task_id == push.task_id
            and self.key == push.key
            and self.source_map_index in (None, push.map_index)
        )


@dataclass(frozen=True)
class TriggerXComs:
    """XComs a deferred task's trigger event carried (``TaskSuccessEvent(xcoms=...)``).

    A triggerer pushes them server-side; ``dag.test()`` runs the trigger inline and hands only the
    event's payload back to the task, so there ``pushed`` is False and no reader can find them.
    """

    task_id: str
    map_index: int
    trigger: str
    xcoms: dict[str, Any]
    pushed: bool = False
    try_number: int = 1
    seq: int = 0


@dataclass(frozen=True)
class XComDelete:
    """One XCom deleted, with the task instance that deleted it (None: the harness/Airflow)."""

    task_id: str
    map_index: int | None
    key: str
    by_task_id: str | None = None
    by_map_index: int | None = None
    purged: bool = False
    try_number: int = 1
    seq: int = 0

    def removes(self, push: XComPush) -> bool:
        """Whether this delete removes ``push`` (a delete without a map index removes every index)."""
        return (
            self.task_id == push.task_id
            and self.key == push.key
            and self.map_index in (None, push.map_index)
            and self.seq > push.seq
        )


def standing_pushes(pushes: list[XComPush], deletes: list[XComDelete]) -> list[XComPush]:
    """The pushes that stand at the end of a run, in push order: the last push per (task, map
    index, key), unless a later delete removed it (what the metadata DB holds after the run)."""
    latest: dict[tuple[str, int, str], XComPush] = {}
    for push in sorted(pushes, key=lambda p: p.seq):
        latest[(push.task_id, push.map_index, push.key)] = push
    return [push for push in latest.values() if not any(delete.removes(push) for delete in deletes)]
