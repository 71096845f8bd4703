"""The object behind the ``xcom`` fixture: runs DAGs and answers queries about the last run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional, Union

from pytest_xcom import _compat, backends, loader, runner
from pytest_xcom.backends import BackendChoice, BackendError
from pytest_xcom.policy import Policy
from pytest_xcom.record import RUN_API, XComRun
from pytest_xcom.services import TestServices


class NoRunError(RuntimeError):
    """A query was made on ``xcom`` before any ``xcom.run(...)`` in this test."""


class XComHarness:
    """Runs DAGs with recording on; every XComRun query is also available here for the last run."""

    def __init__(
        self,
        *,
        dags_folder: Path,
        services: TestServices,
        policy: Optional[Policy] = None,
        backend: Optional[BackendChoice] = None,
    ) -> None:
        self._dags_folder = dags_folder
        self._services = services
        self.backend = backend or BackendChoice()
        self.policy = policy or Policy()
        self.violations: list[str] = []  # policy violations of every run, checked after the test
        self._added_paths: list[str] = []
        self.runs: list[XComRun] = []

    def run(
        self,
        dag: Any,
        *,
        logical_date: runner.DateLike = None,
        conf: Optional[dict[str, Any]] = None,
        backend: Optional[str] = None,
        freeze_time: Any = None,
        backend_options: Optional[dict[str, Any]] = None,
    ) -> XComRun:
        """Run ``dag`` once through ``dag.test()`` on this test's isolated metadata DB.

        ``backend`` (with ``backend_options``) overrides the test's XCom backend for this run;
        ``freeze_time`` (a datetime, an ISO string, or True for the logical date) freezes the
        wall clock that task code sees.
        """
        choice = self._choice(backend, backend_options)
        return self._run(dag, logical_date=logical_date, conf=conf, choice=choice, freeze_time=freeze_time)

    def _choice(self, backend: Optional[str], backend_options: Optional[dict[str, Any]]) -> BackendChoice:
        if backend is None and backend_options:
            raise BackendError("backend_options= needs backend= too, e.g. backend='s3'")
        return self.backend if backend is None else BackendChoice(backend, dict(backend_options or {}))

    def _run(
        self,
        dag: Any,
        *,
        logical_date: runner.DateLike,
        choice: BackendChoice,
        conf: Optional[dict[str, Any]] = None,
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
        backend: Optional[str] = None,
        backend_options: Optional[dict[str, Any]] = None,
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
            raise ValueError(f"task(s) {', '.join(unknown)} are not in DAG {dag.dag_id!r}")
        _compat.clear_task_instances(dag.dag_id, previous.run_id, ids)
        return self._run(dag, logical_date=previous.logical_date, choice=self._choice(backend, backend_options), resume=True)

    def load_dag(self, path: Union[str, Path], dag_id: Optional[str] = None) -> Any:
        """Import a DAG file and return its DAG (``dag_id`` picks one when it has several)."""
        dag, added = loader.load_dag(path, dag_id)
        self._added_paths.extend(added)
        return dag

    @property
    def last_run(self) -> XComRun:
        if not self.runs:
            raise NoRunError(
                "no DAG run yet in this test: call xcom.run(dag) before querying or asserting on xcom"
            )
        return self.runs[-1]

    def __getattr__(self, name: str) -> Any:
        if name in RUN_API:
            return getattr(self.last_run, name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(RUN_API))

    def close(self) -> None:
        """Undo what loading DAG files changed in this process (sys.path entries)."""
        for entry in self._added_paths:
            if entry in sys.path:
                sys.path.remove(entry)
        self._added_paths.clear()

    def __repr__(self) -> str:
        return f"<XComHarness runs={len(self.runs)}>"
