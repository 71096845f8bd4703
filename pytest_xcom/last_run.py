"""Every query and assertion of :class:`XComRun`, answered for the last run of a test.

Written out (not ``__getattr__``) so editors and type checkers see them; ``tests/test_layout.py``
keeps this surface and XComRun's in step (same names, same signatures).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from unittest.mock import ANY

from pytest_xcom.errors import NoRunError
from pytest_xcom.record.events import RETURN_KEY, Attempts, TriggerXComs, XComDelete, XComPull, XComPush
from pytest_xcom.record.run import XComRun
from pytest_xcom.record.views import Expansion, Pushes, XComLoop
from pytest_xcom.sizes import SizeLike


class LastRunQueries:
    """The ``xcom`` fixture's view of its most recent run."""

    runs: list[XComRun]

    @property
    def last_run(self) -> XComRun:
        """The most recent run of this test; a clear error before the first one."""
        __tracebackhide__ = True
        if not self.runs:
            raise NoRunError("no DAG run yet in this test: call xcom.run(dag) before querying or asserting on xcom")
        return self.runs[-1]

    @property
    def dag_id(self) -> str:
        return self.last_run.dag_id

    @property
    def run_id(self) -> str:
        return self.last_run.run_id

    @property
    def logical_date(self) -> datetime | None:
        return self.last_run.logical_date

    @property
    def state(self) -> str:
        return self.last_run.state

    @property
    def task_states(self) -> dict[str, Any]:
        return self.last_run.task_states

    @property
    def failures(self) -> dict[str, str]:
        return self.last_run.failures

    @property
    def pushes(self) -> list[XComPush]:
        return self.last_run.pushes

    @property
    def pulls(self) -> list[XComPull]:
        return self.last_run.pulls

    @property
    def deletes(self) -> list[XComDelete]:
        return self.last_run.deletes

    @property
    def task_ids(self) -> tuple[str, ...]:
        return self.last_run.task_ids

    @property
    def mapped_task_ids(self) -> frozenset[str]:
        return self.last_run.mapped_task_ids

    @property
    def dependencies(self) -> tuple[tuple[str, str], ...]:
        return self.last_run.dependencies

    @property
    def airflow_version(self) -> str:
        return self.last_run.airflow_version

    @property
    def duration(self) -> float:
        return self.last_run.duration

    @property
    def policy_violations(self) -> list[str]:
        return self.last_run.policy_violations

    @property
    def succeeded(self) -> bool:
        return self.last_run.succeeded

    @property
    def airflow_xcoms(self) -> frozenset[tuple[str, str]]:
        return self.last_run.airflow_xcoms

    @property
    def trigger_xcoms(self) -> list[TriggerXComs]:
        return self.last_run.trigger_xcoms

    @property
    def marked_success(self) -> tuple[str, ...]:
        return self.last_run.marked_success

    @property
    def loops(self) -> dict[str, dict[str, Any]]:
        return self.last_run.loops

    @property
    def current_attempts(self) -> Attempts:
        return self.last_run.current_attempts

    def events(self) -> list[XComPush | XComPull | XComDelete]:
        """Every push, read and delete of every attempt, in the order they happened."""
        return self.last_run.events()

    def history(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> list[XComPush | XComDelete]:
        """That XCom's pushes and deletes, in order, across every attempt (``try_number`` on each)
        and every loop iteration (``iteration`` on each; ``iteration=`` keeps one)."""
        __tracebackhide__ = True
        return self.last_run.history(task_id, key, map_index=map_index, iteration=iteration)

    def loop_of(self, task_id: str) -> str | None:
        """The id of the task loop ``task_id`` runs in, or None."""
        return self.last_run.loop_of(task_id)

    def iterations_of(self, task_id: str) -> int:
        """How many loop iterations ``task_id`` has task instances in (0 outside loops)."""
        return self.last_run.iterations_of(task_id)

    def loop(self, group_id: str) -> XComLoop:
        """How the task loop ``group_id`` ran: iterations, the terminal task's values, the gate's decisions."""
        __tracebackhide__ = True
        return self.last_run.loop(group_id)

    def assert_iterations(self, group_id: str, count: int) -> None:
        """The task loop ``group_id`` ran exactly ``count`` iterations."""
        __tracebackhide__ = True
        return self.last_run.assert_iterations(group_id, count)

    def assert_round_trip(self, *, task_id: str | None = None) -> None:
        """Every standing XCom (of that task) reaches its readers equal to what was pushed."""
        __tracebackhide__ = True
        return self.last_run.assert_round_trip(task_id=task_id)

    def is_mapped(self, task_id: str) -> bool:
        __tracebackhide__ = True
        return self.last_run.is_mapped(task_id)

    def effective_pushes(self) -> list[XComPush]:
        """The last push per (task, map index, key): what the metadata DB holds after the run."""
        return self.last_run.effective_pushes()

    def pushed_by(self, task_id: str, *, map_index: int | None = None, iteration: int | None = None) -> Pushes:
        """The XComs that task stands with at the end of the run (every map index when None; the
        last loop iteration when ``iteration`` is None for a task inside a loop)."""
        __tracebackhide__ = True
        return self.last_run.pushed_by(task_id, map_index=map_index, iteration=iteration)

    def pulled_by(
        self, task_id: str, *, map_index: int | None = None, iteration: int | None = None
    ) -> list[XComPull]:
        """The reads of that task (every map index when None; the last loop iteration when
        ``iteration`` is None for a task inside a loop), in order, across attempts."""
        __tracebackhide__ = True
        return self.last_run.pulled_by(task_id, map_index=map_index, iteration=iteration)

    def reads_of(self, push: XComPush) -> list[XComPull]:
        """Every read that found ``push``."""
        return self.last_run.reads_of(push)

    def readers(self, push: XComPush) -> list[str]:
        """Sorted labels (``task`` / ``task[i]``) of the task instances that read ``push``."""
        return self.last_run.readers(push)

    def ordered_task_ids(self) -> list[str]:
        """The DAG's task ids in DAG order, then any id the record mentions that is not among them."""
        return self.last_run.ordered_task_ids()

    def ordered_pushes(self) -> list[XComPush]:
        """The standing pushes in task order, then map index, then key: how reports list them."""
        return self.last_run.ordered_pushes()

    def consumers(self, task_id: str, key: str = RETURN_KEY) -> set[str]:
        """Ids of the tasks that read that XCom, explicitly or as an argument."""
        __tracebackhide__ = True
        return self.last_run.consumers(task_id, key)

    def consumer_instances(self, task_id: str, key: str = RETURN_KEY) -> set[tuple[str, int]]:
        __tracebackhide__ = True
        return self.last_run.consumer_instances(task_id, key)

    def value(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> Any:
        """The value; for a mapped task with map_index=None, the values ordered by map_index; for a
        task inside a loop, of the last iteration unless ``iteration`` says which."""
        __tracebackhide__ = True
        return self.last_run.value(task_id, key, map_index=map_index, iteration=iteration)

    def size(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> int:
        """Serialized bytes (summed over map indexes for a mapped task with map_index=None)."""
        __tracebackhide__ = True
        return self.last_run.size(task_id, key, map_index=map_index, iteration=iteration)

    def stored_size(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> int:
        """Bytes the metadata DB row holds (summed over map indexes when map_index=None)."""
        __tracebackhide__ = True
        return self.last_run.stored_size(task_id, key, map_index=map_index, iteration=iteration)

    def expansions(self, task_id: str, *, iteration: int | None = None) -> Expansion:
        """How a mapped task expanded (inside a loop: in the last iteration unless ``iteration`` says which)."""
        __tracebackhide__ = True
        return self.last_run.expansions(task_id, iteration=iteration)

    def manifest(self) -> dict[str, Any]:
        """A JSON-ready, deterministic description of the XCom traffic (what snapshots compare)."""
        return self.last_run.manifest()

    def report(self) -> str:
        """A table of pushes (task, map index, key, size, offloaded) and, under each, who read it."""
        return self.last_run.report()

    def assert_succeeded(self) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_succeeded()

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
        return self.last_run.assert_pushed(task_id, key, value, map_index=map_index, iteration=iteration)

    def assert_not_pushed(self, task_id: str, key: str | None = None) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_not_pushed(task_id, key)

    def assert_pulled(self, task_id: str, source_task_id: str, key: str = RETURN_KEY) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_pulled(task_id, source_task_id, key)

    def assert_exclusive(self, task_id: str, key: str = RETURN_KEY, *, consumers: Any) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_exclusive(task_id, key, consumers=consumers)

    def assert_max_size(self, limit: SizeLike, *, task_id: str | None = None, stored: bool = False) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_max_size(limit, task_id=task_id, stored=stored)

    def assert_json_serializable(self) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_json_serializable()

    def assert_no_unused(self, *, ignore: Any = ()) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_no_unused(ignore=ignore)

    def assert_no_implicit_pulls(self) -> None:
        """Every ti.xcom_pull() named its task_ids (an extension of the API)."""
        __tracebackhide__ = True
        return self.last_run.assert_no_implicit_pulls()

    def assert_expanded(self, task_id: str, count: int, *, iteration: int | None = None) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_expanded(task_id, count, iteration=iteration)

    def assert_offloaded(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_offloaded(task_id, key, map_index=map_index, iteration=iteration)

    def assert_inline(
        self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None, iteration: int | None = None
    ) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_inline(task_id, key, map_index=map_index, iteration=iteration)
