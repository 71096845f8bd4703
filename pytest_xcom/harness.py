"""The object behind the ``xcom`` fixture: runs DAGs and answers queries about the last run."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import ANY

from pytest_xcom import _airflow
from pytest_xcom.checks.policy import Policy
from pytest_xcom.errors import BackendError, NoRunError, XComValueError
from pytest_xcom.isolation import backends
from pytest_xcom.isolation.backends import BackendChoice
from pytest_xcom.isolation.services import MockedServices
from pytest_xcom.record.events import RETURN_KEY, XComDelete, XComPull, XComPush
from pytest_xcom.record.run import Expansion, Pushes, XComRun
from pytest_xcom.recording import loader, runner
from pytest_xcom.sizes import SizeLike


class XComHarness:
    """Runs DAGs with recording on; every XComRun query is also available here for the last run."""

    def __init__(
        self,
        *,
        dags_folder: Path,
        services: MockedServices,
        policy: Policy | None = None,
        backend: BackendChoice | None = None,
    ) -> None:
        self._dags_folder = dags_folder
        self._services = services
        self.backend_choice = backend or BackendChoice()
        self.policy = policy or Policy()
        self.violations: list[str] = []  # policy violations of every run, checked after the test
        self._added_paths: list[str] = []
        self.runs: list[XComRun] = []

    def run(
        self,
        dag: Any,
        *,
        logical_date: runner.DateLike = None,
        conf: dict[str, Any] | None = None,
        backend: str | None = None,
        freeze_time: Any = None,
        backend_options: dict[str, Any] | None = None,
    ) -> XComRun:
        """Run ``dag`` once through ``dag.test()`` on this test's isolated metadata DB.

        ``backend`` (with ``backend_options``) overrides the test's XCom backend for this run;
        ``freeze_time`` (a datetime, an ISO string, or True for the logical date) freezes the
        wall clock that task code sees.
        """
        choice = self._choice(backend, backend_options)
        return self._run(dag, logical_date=logical_date, conf=conf, choice=choice, freeze_time=freeze_time)

    @property
    def backend(self) -> str:
        """The name of this test's default XCom backend (the marker's, the option's, or "db")."""
        return self.backend_choice.name

    def _choice(self, backend: str | None, backend_options: dict[str, Any] | None) -> BackendChoice:
        if backend is None and backend_options:
            raise BackendError("backend_options= needs backend= too, e.g. backend='s3'")
        return self.backend_choice if backend is None else BackendChoice(backend, dict(backend_options or {}))

    def _run(
        self,
        dag: Any,
        *,
        logical_date: runner.DateLike,
        choice: BackendChoice,
        conf: dict[str, Any] | None = None,
        freeze_time: Any = None,
        resume: bool = False,
    ) -> XComRun:
        date = runner.coerce_logical_date(logical_date)
        freeze_at = runner.coerce_freeze_time(freeze_time, date)
        with backends.activated(choice, self._services) as backend_class:
            run = runner.run_dag(
                dag,
                logical_date=date,
                conf=conf,
                dags_folder=self._dags_folder,
                backend=backend_class,
                backend_name=choice.name,
                freeze_at=freeze_at,
                resume=resume,
            )
        run.policy_violations = self.policy.violations(run)
        self.violations.extend(run.policy_violations)
        self.runs.append(run)
        return run

    def clear_and_rerun(
        self,
        dag: Any,
        task_ids: Any,
        *,
        backend: str | None = None,
        backend_options: dict[str, Any] | None = None,
    ) -> XComRun:
        """Clear task instances of the DAG's run, as Airflow's "Clear" does, and run them again.

        The same DAG run continues: the cleared tasks run a second try, whose start deletes their
        previous XComs and lets the backend purge what it stored. (A plain second ``run()`` on the
        same logical date instead makes ``dag.test()`` delete the whole run, XCom rows included,
        without the backend's purge.)
        """
        ids = [task_ids] if isinstance(task_ids, str) else list(task_ids)
        previous = next((r for r in reversed(self.runs) if r.dag_id == dag.dag_id), None)
        if previous is None:
            raise NoRunError(f"no run of DAG {dag.dag_id!r} yet in this test: xcom.run(dag) first")
        unknown = sorted(set(ids) - set(previous.task_ids))
        if unknown:
            raise XComValueError(f"task(s) {', '.join(unknown)} are not in DAG {dag.dag_id!r}")
        _airflow.clear_task_instances(dag.dag_id, previous.run_id, ids)
        return self._run(
            dag, logical_date=previous.logical_date, choice=self._choice(backend, backend_options), resume=True
        )

    def load_dag(self, path: str | Path, dag_id: str | None = None) -> Any:
        """Import a DAG file and return its DAG (``dag_id`` picks one when it has several)."""
        dag, added = loader.load_dag(path, dag_id)
        self._added_paths.extend(added)
        return dag

    @property
    def last_run(self) -> XComRun:
        """The most recent run of this test; a clear error before the first one."""
        __tracebackhide__ = True
        if not self.runs:
            raise NoRunError("no DAG run yet in this test: call xcom.run(dag) before querying or asserting on xcom")
        return self.runs[-1]

    # -- every query and assertion of XComRun, on the last run -----------------------------------
    # Written out (not __getattr__) so editors and type checkers see them; a test keeps the two
    # surfaces in step.

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
    def duration(self) -> float:
        return self.last_run.duration

    @property
    def policy_violations(self) -> list[str]:
        return self.last_run.policy_violations

    @property
    def succeeded(self) -> bool:
        return self.last_run.succeeded

    def is_mapped(self, task_id: str) -> bool:
        __tracebackhide__ = True
        return self.last_run.is_mapped(task_id)

    def effective_pushes(self) -> list[XComPush]:
        """The last push per (task, map index, key): what the metadata DB holds after the run."""
        return self.last_run.effective_pushes()

    def pushed_by(self, task_id: str, *, map_index: int | None = None) -> Pushes:
        __tracebackhide__ = True
        return self.last_run.pushed_by(task_id, map_index=map_index)

    def pulled_by(self, task_id: str, *, map_index: int | None = None) -> list[XComPull]:
        __tracebackhide__ = True
        return self.last_run.pulled_by(task_id, map_index=map_index)

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

    def value(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> Any:
        """The value; for a mapped task with map_index=None, the values ordered by map_index."""
        __tracebackhide__ = True
        return self.last_run.value(task_id, key, map_index=map_index)

    def size(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> int:
        """Serialized bytes (summed over map indexes for a mapped task with map_index=None)."""
        __tracebackhide__ = True
        return self.last_run.size(task_id, key, map_index=map_index)

    def stored_size(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> int:
        """Bytes the metadata DB row holds (summed over map indexes when map_index=None)."""
        __tracebackhide__ = True
        return self.last_run.stored_size(task_id, key, map_index=map_index)

    def expansions(self, task_id: str) -> Expansion:
        __tracebackhide__ = True
        return self.last_run.expansions(task_id)

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
        self, task_id: str, key: str = RETURN_KEY, value: Any = ANY, *, map_index: int | None = None
    ) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_pushed(task_id, key, value, map_index=map_index)

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

    def assert_expanded(self, task_id: str, count: int) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_expanded(task_id, count)

    def assert_offloaded(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_offloaded(task_id, key, map_index=map_index)

    def assert_inline(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> None:
        __tracebackhide__ = True
        return self.last_run.assert_inline(task_id, key, map_index=map_index)

    def close(self) -> None:
        """Undo what loading DAG files changed in this process (sys.path entries)."""
        for entry in self._added_paths:
            if entry in sys.path:
                sys.path.remove(entry)
        self._added_paths.clear()

    def __repr__(self) -> str:
        return f"<XComHarness runs={len(self.runs)}>"
