"""The object behind the ``xcom`` fixture: runs DAGs and answers queries about the last run."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.checks.policy import Policy
from pytest_xcom.errors import BackendError, DagRunError, NoRunError, XComValueError
from pytest_xcom.isolation import backends
from pytest_xcom.isolation.backends import BackendChoice
from pytest_xcom.isolation.services import MockedServices
from pytest_xcom.last_run import LastRunQueries
from pytest_xcom.record.given import Given, PartialRun, plan_partial_run
from pytest_xcom.record.run import XComRun
from pytest_xcom.recording import loader, runner
from pytest_xcom.recording.airflow_log import RunLog


class XComHarness(LastRunQueries):
    """Runs DAGs with recording on; every XComRun query is also available here for the last run."""

    def __init__(
        self,
        *,
        dags_folder: Path,
        services: MockedServices,
        policy: Policy | None = None,
        backend: BackendChoice | None = None,
        airflow_logs: str = "all",
        silenced_log_handlers: Sequence[logging.Handler] = (),
    ) -> None:
        self._dags_folder = dags_folder
        self._services = services
        self.backend_choice = backend or BackendChoice()
        self.policy = policy or Policy()
        self.violations: list[str] = []  # policy violations of every run, checked after the test
        self._dag_files = loader.DagFiles()
        self.runs: list[XComRun] = []
        self.airflow_logs = airflow_logs  # "failed", "all" or "none": see recording/airflow_log.py
        self._silenced = tuple(silenced_log_handlers)
        self.log_sections: list[tuple[str, str]] = []  # (title, text) of each failed task instance's log

    def run(
        self,
        dag: Any,
        *,
        logical_date: runner.DateLike = None,
        conf: dict[str, Any] | None = None,
        backend: str | None = None,
        freeze_time: Any = None,
        backend_options: dict[str, Any] | None = None,
        tasks: Iterable[str] | None = None,
        upstream: Mapping[str, Any] | Iterable[Given | Mapping[str, Any]] | None = None,
    ) -> XComRun:
        """Run ``dag`` once through ``dag.test()`` on this test's isolated metadata DB.

        ``backend`` (with ``backend_options``) overrides the test's XCom backend for this run;
        ``freeze_time`` (a datetime, an ISO string, or True for the logical date) freezes the
        wall clock that task code sees.

        A partial run: ``tasks`` are the ids of the tasks to run, every other task is marked success
        without running; ``upstream`` gives the XComs those tasks would have pushed, as a mapping
        ``{task_id: return_value}`` and/or a list of :class:`pytest_xcom.Given`. They are written
        through the run's XCom backend and recorded as pushes with ``given=True``.
        """
        __tracebackhide__ = True
        choice = self._choice(backend, backend_options)
        partial = _partial_run(dag, tasks, upstream)
        return self._run(
            dag, logical_date=logical_date, conf=conf, choice=choice, freeze_time=freeze_time, partial=partial
        )

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
        partial: PartialRun | None = None,
    ) -> XComRun:
        date = runner.coerce_logical_date(logical_date)
        freeze_at = runner.coerce_freeze_time(freeze_time, date)
        log = None if self.airflow_logs == "all" else RunLog()
        try:
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
                    partial=partial,
                    log=log,
                    silenced=self._silenced,
                )
        except DagRunError:
            self._keep_log(log, dag, run_raised=True)
            raise
        self._keep_log(log, dag, run_raised=False)
        run.policy_violations = self.policy.violations(run)
        self.violations.extend(run.policy_violations)
        self.runs.append(run)
        return run

    def _keep_log(self, log: RunLog | None, dag: Any, *, run_raised: bool) -> None:
        if log is None or self.airflow_logs != "failed":
            return
        nth = len(self.runs) + 1
        prefix = "Airflow log" if nth == 1 else f"Airflow log (run {nth})"
        self.log_sections += log.sections(str(getattr(dag, "dag_id", "?")), run_raised=run_raised, prefix=prefix)

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

    def conf_vars(self, overrides: Mapping[tuple[str, str], str | None]) -> AbstractContextManager[None]:
        """Set Airflow config options for a block of this test, as Airflow's own ``conf_vars`` does.

        ``with xcom.conf_vars({("core", "max_map_length"): "16"}): xcom.run(dag)``; ``None``
        removes an option. Set in Airflow's config objects and as ``AIRFLOW__SECTION__KEY`` (which
        Airflow reads first), and put back when the block ends. (A ``conf.set`` in a test body is
        put back after the test too, but an ``AIRFLOW__...`` variable of the harness overrides it.)
        """
        for where in overrides:
            if not (isinstance(where, tuple) and len(where) == 2 and all(isinstance(part, str) for part in where)):
                raise XComValueError(
                    "conf_vars takes {(section, key): value}, e.g. {('core', 'max_map_length'): '16'}, "
                    f"not {where!r}"
                )
        return _airflow.conf_vars(dict(overrides))

    def load_dag(self, path: str | Path, dag_id: str | None = None) -> Any:
        """Import a DAG file and return its DAG (``dag_id`` picks one when it has several)."""
        return self._dag_files.load(path, dag_id)

    def _use_imported_file(self, imported: loader.ImportedFile) -> None:
        """Whole-repository mode: put back what importing a DAG file loaded, until ``close`` (as ``load_dag``)."""
        self._dag_files.unpark(imported)

    def close(self) -> None:
        """Undo what loading DAG files changed in this process (sys.path entries, neighbour modules)."""
        self._dag_files.close()

    def __repr__(self) -> str:
        return f"<XComHarness runs={len(self.runs)}>"


def _partial_run(dag: Any, tasks: Any, upstream: Any) -> PartialRun | None:
    """Check ``tasks=`` / ``upstream=`` against the DAG before anything runs (None: the whole DAG)."""
    __tracebackhide__ = True
    if (tasks is None and upstream is None) or not isinstance(dag, _airflow.dag_class()):
        return None  # the whole DAG; or not a DAG at all, which the runner refuses
    return plan_partial_run(dag.dag_id, list(dag.task_dict), tasks, upstream)
