"""The events of a run's XCom traffic: pushes, reads and deletes. Pure data: no Airflow.

Every event carries ``seq``, its place in the run's one ordered log, ``try_number``, the attempt
of the task instance that caused it, and ``iteration``, the loop iteration of that instance inside
a task loop (Airflow 3.4; None elsewhere); "what stands at the end of the run" is derived from that
order (see :meth:`XComRun.effective_pushes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RETURN_KEY = "return_value"

# (task_id, map_index, iteration) -> the attempt that is current at the end of the run
Attempts = dict[tuple[str, int, int | None], int]


def instance_label(task_id: str, map_index: int | None, iteration: int | None = None) -> str:
    """``task[2]`` for a mapped task instance, ``task@1`` / ``task[2]@1`` in loop iteration 1, else
    ``task``: how every report names one."""
    label = f"{task_id}[{map_index}]" if map_index is not None and map_index >= 0 else task_id
    return label if iteration is None else f"{label}@{iteration}"


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
    source: str = "task"  # "task", "given" (upstream=), "airflow" (written by Airflow's server)
    seq: int = 0
    iteration: int | None = None

    @property
    def instance(self) -> str:
        """The pushing task instance's label (``task``, ``task[2]``, ``task@1``)."""
        return instance_label(self.task_id, self.map_index, self.iteration)

    @property
    def label(self) -> str:
        return f"{self.instance} key {self.key!r}"

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
    iteration: int | None = None  # the reader's loop iteration
    source_iteration: int | None = None  # the iteration read (None: outside loops, or all of them)
    previous_iteration: bool = False  # read through ``loop.previous``

    @property
    def instance(self) -> str:
        """The reading task instance's label."""
        return instance_label(self.task_id, self.map_index, self.iteration)

    @property
    def source(self) -> str:
        """The label of the task instance read (``task`` when the read spanned every map index)."""
        return instance_label(self.source_task_id, self.source_map_index, self.source_iteration)

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
            and self.source_iteration in (None, push.iteration)
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
    iteration: int | None = None


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
    iteration: int | None = None  # the loop iteration whose XCom it deleted (None: outside loops)

    def removes(self, push: XComPush) -> bool:
        """Whether this delete removes ``push`` (a delete without a map index removes every index)."""
        return (
            self.task_id == push.task_id
            and self.key == push.key
            and self.map_index in (None, push.map_index)
            and self.iteration in (None, push.iteration)
            and self.seq > push.seq
        )


def standing_pushes(
    pushes: list[XComPush], deletes: list[XComDelete], current_attempts: Attempts | None = None
) -> list[XComPush]:
    """The pushes that stand at the end of a run, in push order: the last push per (task, map
    index, loop iteration, key), unless a later delete removed it (what the metadata DB holds after
    the run, and what readers see).

    ``current_attempts``: where each attempt keeps its own XComs (Airflow 3.4), only the current
    attempt's pushes stand; an earlier attempt's stay in the DB with that attempt, unread.
    """
    latest: dict[tuple[str, int, int | None, str], XComPush] = {}
    for push in sorted(pushes, key=lambda p: p.seq):
        latest[(push.task_id, push.map_index, push.iteration, push.key)] = push
    return [
        push
        for push in latest.values()
        if not any(delete.removes(push) for delete in deletes) and not _superseded(push, current_attempts)
    ]


def _superseded(push: XComPush, current_attempts: Attempts | None) -> bool:
    if not current_attempts or push.source != "task":
        return False
    current = current_attempts.get((push.task_id, push.map_index, push.iteration))
    return current is not None and push.try_number < current
