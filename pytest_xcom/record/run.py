"""XComRun: the record of one DAG run, and the queries and assertions over it. Pure Python: no Airflow."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from unittest.mock import ANY

from pytest_xcom.checks import assertions, rules
from pytest_xcom.errors import XComLookupError
from pytest_xcom.record import loops, transport
from pytest_xcom.record.events import (
    RETURN_KEY,
    Attempts,
    TriggerXComs,
    XComDelete,
    XComPull,
    XComPush,
    standing_pushes,
)
from pytest_xcom.record.manifest import build_manifest
from pytest_xcom.record.views import Expansion, Pushes, XComLoop, describe_keys
from pytest_xcom.reporting.text import text_report
from pytest_xcom.sizes import SizeLike


@dataclass
class XComRun:
    """Everything one DAG run did with XCom, with queries and assertions over it."""

    dag_id: str
    run_id: str
    logical_date: datetime | None
    state: str
    task_states: dict[str, Any]
    failures: dict[str, str]
    pushes: list[XComPush]
    pulls: list[XComPull]
    deletes: list[XComDelete]
    task_ids: tuple[str, ...] = ()
    mapped_task_ids: frozenset[str] = frozenset()
    dependencies: tuple[tuple[str, str], ...] = ()  # (upstream, downstream) edges of the DAG
    backend: str = "db"
    duration: float = 0.0
    policy_violations: list[str] = field(default_factory=list)
    # (task_id, key) of XComs Airflow pushes itself (branch decisions, skipmixin_key, the whole
    # dict of multiple_outputs): the strict policy does not blame the user for them.
    airflow_xcoms: frozenset[tuple[str, str]] = frozenset()
    trigger_xcoms: list[TriggerXComs] = field(default_factory=list)
    # A partial run (``xcom.run(dag, tasks=[...])``): the tasks marked success without running.
    marked_success: tuple[str, ...] = ()
    # The Airflow release that ran it: snapshots record it (what they compare depends on it).
    airflow_version: str = ""
    # Task loops (Airflow 3.4), by group id: {"gate", "terminal", "max_iterations", "until", "tasks"}.
    loops: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Where each attempt keeps its own XComs (Airflow 3.4): the current attempt of each instance.
    current_attempts: Attempts = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    # -- queries ---------------------------------------------------------------------------

    def _check_task(self, task_id: str) -> None:
        __tracebackhide__ = True
        if task_id in self.task_ids or not self.task_ids:
            return
        close = difflib.get_close_matches(task_id, self.task_ids, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise XComLookupError(
            f"task {task_id!r} is not in DAG {self.dag_id!r}{hint} Its tasks are: {', '.join(self.task_ids)}"
        )

    def is_mapped(self, task_id: str) -> bool:
        __tracebackhide__ = True
        self._check_task(task_id)
        return task_id in self.mapped_task_ids

    def effective_pushes(self) -> list[XComPush]:
        """The XComs that stand at the end of the run, in push order: the last push per (task, map
        index, key) that no later delete removed (what the metadata DB holds after the run)."""
        return sorted(standing_pushes(self.pushes, self.deletes, self.current_attempts), key=lambda p: p.seq)

    def events(self) -> list[XComPush | XComPull | XComDelete]:
        """Every push, read and delete of every attempt, in the order they happened."""
        merged: list[XComPush | XComPull | XComDelete] = [*self.pushes, *self.pulls, *self.deletes]
        return sorted(merged, key=lambda event: event.seq)

    def history(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> list[XComPush | XComDelete]:
        """That XCom's pushes and deletes, in order, across every attempt (``try_number`` on each)
        and every loop iteration (``iteration`` on each; ``iteration=`` keeps one)."""
        __tracebackhide__ = True
        self._check_task(task_id)
        found: list[XComPush | XComDelete] = []
        for event in self.events():
            if isinstance(event, XComPull) or event.task_id != task_id or event.key != key:
                continue
            if map_index is not None and event.map_index not in (None, map_index):
                continue
            if iteration is not None and event.iteration not in (None, iteration):
                continue
            found.append(event)
        return found

    # -- task loops (Airflow 3.4) -------------------------------------------------------------

    def loop_of(self, task_id: str) -> str | None:
        """The id of the task loop ``task_id`` runs in, or None."""
        return loops.loop_of(self, task_id)

    def iterations_of(self, task_id: str) -> int:
        """How many loop iterations ``task_id`` has task instances in (0 outside loops)."""
        return loops.iterations_of(self, task_id)

    def _iteration(self, task_id: str, iteration: int | None) -> int | None:
        __tracebackhide__ = True
        return loops.resolve_iteration(self, task_id, iteration)

    def loop(self, group_id: str) -> XComLoop:
        """How the task loop ``group_id`` ran: iterations, the terminal task's values, the gate's decisions."""
        __tracebackhide__ = True
        return loops.build_loop(self, group_id)

    def pushed_by(self, task_id: str, *, map_index: int | None = None, iteration: int | None = None) -> Pushes:
        """The XComs that task stands with at the end of the run (every map index when None; the
        last loop iteration when ``iteration`` is None for a task inside a loop)."""
        __tracebackhide__ = True
        self._check_task(task_id)
        iteration = self._iteration(task_id, iteration)
        pushes = [
            p
            for p in self.effective_pushes()
            if p.task_id == task_id
            and (map_index is None or p.map_index == map_index)
            and p.iteration == iteration
        ]
        return Pushes(task_id, pushes, mapped=task_id in self.mapped_task_ids)

    def pulled_by(
        self, task_id: str, *, map_index: int | None = None, iteration: int | None = None
    ) -> list[XComPull]:
        """The reads of that task (every map index when None; the last loop iteration when
        ``iteration`` is None for a task inside a loop), in order, across attempts."""
        __tracebackhide__ = True
        self._check_task(task_id)
        iteration = self._iteration(task_id, iteration)
        return [
            p
            for p in self.pulls
            if p.task_id == task_id and (map_index is None or p.map_index == map_index) and p.iteration == iteration
        ]

    def _reads_of(self, task_id: str, key: str) -> list[XComPull]:
        return [
            p
            for p in self.pulls
            if p.found
            and p.source_task_id == task_id
            and p.key == key
            and (not p.source_dag_id or p.source_dag_id == self.dag_id)
        ]

    def reads_of(self, push: XComPush) -> list[XComPull]:
        """Every read that found ``push``."""
        return [pull for pull in self.pulls if pull.reads(push, self.dag_id)]

    def readers(self, push: XComPush) -> list[str]:
        """Sorted labels (``task`` / ``task[i]``) of the task instances that read ``push``."""
        return sorted({p.instance for p in self.reads_of(push)})

    def ordered_task_ids(self) -> list[str]:
        """The DAG's task ids in DAG order, then any id the record mentions that is not among them."""
        seen = dict.fromkeys(self.task_ids)
        for task_id in [*self.task_states, *(p.task_id for p in self.pushes)]:
            seen.setdefault(task_id)
        for pull in self.pulls:
            seen.setdefault(pull.task_id)
            if pull.found:
                seen.setdefault(pull.source_task_id)
        return list(seen)

    def ordered_pushes(self) -> list[XComPush]:
        """The standing pushes in task order, then map index, then key: how reports list them."""
        order = {task_id: i for i, task_id in enumerate(self.ordered_task_ids())}
        return sorted(
            self.effective_pushes(), key=lambda p: (order.get(p.task_id, 0), p.iteration or 0, p.map_index, p.key)
        )

    def consumers(self, task_id: str, key: str = RETURN_KEY) -> set[str]:
        """Ids of the tasks that read that XCom, explicitly or as an argument."""
        __tracebackhide__ = True
        self._check_task(task_id)
        return {p.task_id for p in self._reads_of(task_id, key)}

    def consumer_instances(self, task_id: str, key: str = RETURN_KEY) -> set[tuple[str, int]]:
        __tracebackhide__ = True
        self._check_task(task_id)
        return {(p.task_id, p.map_index) for p in self._reads_of(task_id, key)}

    def _select(self, task_id: str, key: str, map_index: int | None, iteration: int | None = None) -> list[XComPush]:
        """Effective pushes of (task, key[, map_index][, iteration]) ordered by map index; error if none."""
        __tracebackhide__ = True
        self._check_task(task_id)
        pushes = self.pushed_by(task_id, iteration=iteration)
        found = sorted(
            (p for p in pushes if p.key == key and (map_index is None or p.map_index == map_index)),
            key=lambda p: p.map_index,
        )
        if not found and not (map_index is None and task_id in self.mapped_task_ids):
            where = f" at map_index={map_index}" if map_index is not None else ""
            if self.loop_of(task_id) is not None and pushes:
                where += f" in loop iteration {pushes[0].iteration}"
            raise XComLookupError(
                f"task {task_id!r} pushed no XCom with key {key!r}{where}; it pushed: {describe_keys(pushes)}"
            )
        return found

    def value(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> Any:
        """The value; for a mapped task with map_index=None, the values ordered by map_index; for a
        task inside a loop, of the last iteration unless ``iteration`` says which."""
        __tracebackhide__ = True
        found = self._select(task_id, key, map_index, iteration)
        if map_index is None and task_id in self.mapped_task_ids:
            return [p.value for p in found]
        return found[-1].value

    def size(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> int:
        """Serialized bytes (summed over map indexes for a mapped task with map_index=None)."""
        __tracebackhide__ = True
        found = self._select(task_id, key, map_index, iteration)
        unknown = [p for p in found if p.size is None]
        if unknown:
            raise XComLookupError(
                f"the serialized size of {unknown[0].label} is unknown: Airflow's serializer cannot "
                f"serialize it ({unknown[0].size_error}); your backend stored it anyway. "
                "Use stored_size() for what the metadata DB holds."
            )
        return sum(p.size or 0 for p in found)

    def stored_size(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> int:
        """Bytes the metadata DB row holds (summed over map indexes when map_index=None)."""
        __tracebackhide__ = True
        return sum(p.stored_size for p in self._select(task_id, key, map_index, iteration))

    def expansions(self, task_id: str, *, iteration: int | None = None) -> Expansion:
        """How a mapped task expanded (inside a loop: in the last iteration unless ``iteration`` says which)."""
        __tracebackhide__ = True
        self._check_task(task_id)
        if task_id not in self.mapped_task_ids:
            mapped = ", ".join(sorted(self.mapped_task_ids)) or "none"
            raise XComLookupError(
                f"task {task_id!r} is not mapped, so it has no expansions (mapped tasks in {self.dag_id!r}: {mapped})"
            )
        iteration = self._iteration(task_id, iteration)
        states = self.task_states.get(task_id, [])
        if iteration is not None:
            states = states[iteration] if isinstance(states, list) and iteration < len(states) else []
        if not isinstance(states, list):
            states = []
        indexes = list(range(len(states)))
        by_index = {
            p.map_index: p.value for p in self.pushed_by(task_id, iteration=iteration) if p.key == RETURN_KEY
        }
        return Expansion(
            task_id=task_id,
            map_indexes=indexes,
            values=[by_index[i] for i in indexes if i in by_index],
            states=list(states),
        )

    def manifest(self) -> dict[str, Any]:
        """A JSON-ready, deterministic description of the XCom traffic (what snapshots compare)."""
        return build_manifest(self)

    def report(self) -> str:
        """A table of pushes (task, map index, key, size, offloaded) and, under each, who read it."""
        return text_report(self)

    # -- assertions ------------------------------------------------------------------------

    def assert_succeeded(self) -> None:
        __tracebackhide__ = True
        assertions.assert_succeeded(self)

    def assert_pushed(
        self,
        task_id: str,
        key: str = RETURN_KEY,
        value: Any = ANY,
        *,
        map_index: int | None = None,
        iteration: int | None = None,
    ) -> None:
        __tracebackhide__ = True
        assertions.assert_pushed(self, task_id, key, value, map_index=map_index, iteration=iteration)

    def assert_not_pushed(self, task_id: str, key: str | None = None) -> None:
        __tracebackhide__ = True
        assertions.assert_not_pushed(self, task_id, key)

    def assert_pulled(self, task_id: str, source_task_id: str, key: str = RETURN_KEY) -> None:
        __tracebackhide__ = True
        assertions.assert_pulled(self, task_id, source_task_id, key)

    def assert_exclusive(self, task_id: str, key: str = RETURN_KEY, *, consumers: Any) -> None:
        __tracebackhide__ = True
        assertions.assert_exclusive(self, task_id, key, consumers=consumers)

    def assert_max_size(self, limit: SizeLike, *, task_id: str | None = None, stored: bool = False) -> None:
        __tracebackhide__ = True
        rules.MaxSize(limit, task_id=task_id, stored=stored).check(self)

    def assert_json_serializable(self) -> None:
        __tracebackhide__ = True
        rules.PlainJson().check(self)

    def assert_no_unused(self, *, ignore: Any = ()) -> None:
        __tracebackhide__ = True
        rules.NoUnused(ignore=ignore).check(self)

    def assert_no_implicit_pulls(self) -> None:
        """Every ti.xcom_pull() named its task_ids (an extension of the API)."""
        __tracebackhide__ = True
        rules.NamedTaskIds().check(self)

    def assert_expanded(self, task_id: str, count: int, *, iteration: int | None = None) -> None:
        __tracebackhide__ = True
        assertions.assert_expanded(self, task_id, count, iteration=iteration)

    def assert_iterations(self, group_id: str, count: int) -> None:
        """The task loop ``group_id`` ran exactly ``count`` iterations."""
        __tracebackhide__ = True
        assertions.assert_iterations(self, group_id, count)

    def assert_offloaded(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> None:
        __tracebackhide__ = True
        assertions.assert_storage(self, task_id, key, map_index=map_index, iteration=iteration, offloaded=True)

    def assert_inline(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> None:
        __tracebackhide__ = True
        assertions.assert_storage(self, task_id, key, map_index=map_index, iteration=iteration, offloaded=False)

    def assert_round_trip(self, *, task_id: str | None = None) -> None:
        """Every standing XCom (of that task) reaches its readers equal to what was pushed."""
        __tracebackhide__ = True
        rules.RoundTrip(task_id=task_id).check(self)

    def to_dict(self, *, value_limit: int = 200) -> dict[str, Any]:
        """A JSON-ready copy for moving runs between processes (xdist) and into reports.

        Values are replaced by a repr cut at ``value_limit`` characters: reports show them,
        nobody compares them. Nothing is deep-copied: a value need not be copyable.
        """
        return transport.run_to_dict(self, value_limit)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> XComRun:
        return cls(**transport.run_fields(data))

    def __repr__(self) -> str:
        return (
            f"<XComRun {self.dag_id} {self.run_id} state={self.state} "
            f"pushes={len(self.pushes)} pulls={len(self.pulls)} deletes={len(self.deletes)}>"
        )
