"""Running a DAG object through ``dag.test()`` without a dags folder, and resuming a cleared run."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from datetime import datetime
from types import ModuleType
from typing import Any

from pytest_xcom._airflow import af2
from pytest_xcom._airflow.api_server import in_process_api_server
from pytest_xcom._airflow.db import create_session
from pytest_xcom._airflow.task_logs import is_compact_formatter
from pytest_xcom._airflow.versions import before, is_airflow2


def _bundle_dagbag_module() -> ModuleType | None:
    """The module ``dag.test()`` imports ``BundleDagBag`` from, or None when it syncs no bundle.

    Airflow 3.0's ``dag.test()`` runs any DAG object as it is; 3.1 moved it onto the DAG bundle
    (``airflow.models.dagbag``), 3.2 moved the DagBag to ``airflow.dag_processing.dagbag``.
    """
    try:
        from airflow.dag_processing import dagbag as module  # Airflow >= 3.2
    except ImportError:
        from airflow.models import dagbag as module  # type: ignore[no-redef]  # Airflow 3.0, 3.1
    return module if "BundleDagBag" in vars(module) else None


@contextlib.contextmanager
def dag_registered_for_test(dag: Any, dags_folder: str) -> Iterator[None]:
    """Make ``dag.test()`` register exactly this DAG instead of parsing the dags folder.

    From Airflow 3.1 on, ``dag.test()`` syncs the DAG bundle from the dags folder before it can
    create a run. Handing it a bag that holds just this DAG serializes it into the metadata DB
    without importing any other file. Airflow 3.0 does not sync bundles: nothing to do there.
    """
    module = _bundle_dagbag_module()
    if module is None:
        yield
        return

    class _SingleDagBag(module.DagBag):  # type: ignore[name-defined, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(dag_folder=dags_folder, collect_dags=False)
            self.bag_dag(dag)

    original = module.BundleDagBag
    module.BundleDagBag = _SingleDagBag  # type: ignore[attr-defined]
    try:
        if _syncs_only_unregistered_dags():
            _sync_single_dag_bag(module, _SingleDagBag())
        yield
    finally:
        module.BundleDagBag = original  # type: ignore[attr-defined]


def _syncs_only_unregistered_dags() -> bool:
    """Airflow 3.1 and 3.2's ``dag.test()`` skip the bundle sync once the DAG has a serialized version.

    A second DAG object with the same dag_id (a test that rebuilds or changes a DAG) would then run
    against the first one's serialized version, and its execution API fails the new tasks with
    ``TaskNotFound``. Airflow 3.3 re-syncs on every call (apache/airflow#64884).
    """
    return before("3.3")


def _sync_single_dag_bag(module: ModuleType, bag: Any) -> None:
    """Write ``bag`` to the metadata DB as ``dag.test()`` does, under the dags-folder bundle."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    manager = DagBundlesManager()  # type: ignore[no-untyped-call]
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        module.sync_bag_to_db(bag, bundle.name, bundle.version)
        return


@contextlib.contextmanager
def _plain_task_tracebacks() -> Iterator[None]:
    """Log task exceptions as plain tracebacks while ``dag.test()`` runs.

    Airflow 3.0 does not configure structlog under ``dag.test()``, so structlog's default console
    renderer draws Rich tracebacks with every frame's locals: a task failing with a deeply nested
    value in scope takes minutes and gigabytes to log. Airflow 3.1+ configure plain tracebacks.
    """
    import structlog

    renderers = [
        processor
        for processor in structlog.get_config().get("processors", [])
        if isinstance(processor, structlog.dev.ConsoleRenderer)
        and isinstance(getattr(type(processor), "exception_formatter", None), property)
        and not is_compact_formatter(processor.exception_formatter)  # already plain: the user's frames
    ]
    saved = [(renderer, renderer.exception_formatter) for renderer in renderers]
    for renderer in renderers:
        renderer.exception_formatter = structlog.dev.plain_traceback
    try:
        yield
    finally:
        for renderer, formatter in saved:
            renderer.exception_formatter = formatter


def _check_cycle(dag: Any) -> None:
    """Airflow 3.0's ``dag.test()`` runs a cyclic DAG into a "task deadlock" instead of refusing it."""
    if before("3.1"):
        from airflow.utils.dag_cycle_tester import check_cycle

        check_cycle(dag)


def run_dag_test(
    dag: Any, *, logical_date: datetime, conf: dict[str, Any] | None, mark_success_pattern: str | None = None
) -> Any:
    """Run ``dag.test()`` with a deterministic run id; returns the DagRun.

    ``mark_success_pattern``: tasks whose id it ``fullmatch``es are marked success without running.
    """
    _check_cycle(dag)
    if is_airflow2():  # no Task SDK, no execution API, no structlog: dag.test() runs tasks itself
        return af2.run_dag_test(dag, logical_date=logical_date, conf=conf, mark_success_pattern=mark_success_pattern)
    with warnings.catch_warnings(), in_process_api_server(), _plain_task_tracebacks():
        # Airflow's in-process execution API imports starlette's test client, which warns about
        # its own httpx dependency: noise from Airflow's machinery, not from the user's DAG.
        warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
        # run_after defaults to "now" and feeds the run id; pin it so run ids are reproducible.
        if mark_success_pattern is None:
            return dag.test(logical_date=logical_date, run_after=logical_date, run_conf=conf)
        return dag.test(
            logical_date=logical_date, run_after=logical_date, run_conf=conf, mark_success_pattern=mark_success_pattern
        )


@contextlib.contextmanager
def resuming_existing_dag_run() -> Iterator[None]:
    """Make ``dag.test()`` continue the existing run of its logical date.

    By default ``dag.test()`` deletes an existing run of the same logical date, whose XCom rows
    go with it by cascade, without the backend's purge, and starts over.
    """
    run_module, factory_name, scheduler_dag = _dag_test_run_helpers()
    original_get_or_create = getattr(run_module, factory_name)
    original_clear = scheduler_dag.__dict__["clear_dags"]

    def get_or_create_dagrun(*, dag: Any, run_id: str, session: Any, **kwargs: Any) -> Any:
        from airflow.models.dagrun import DagRun
        from airflow.utils.state import DagRunState

        existing = DagRun.find(dag_id=dag.dag_id, run_id=run_id, session=session)
        if existing:
            # Clearing queued the run for the scheduler; dag.test() only drives running runs.
            dag_run = existing[0]
            dag_run.dag = dag  # what a freshly created run gets; update_state() needs it
            dag_run.set_state(DagRunState.RUNNING)
            session.flush()
            return dag_run
        return original_get_or_create(dag=dag, run_id=run_id, session=session, **kwargs)

    setattr(run_module, factory_name, get_or_create_dagrun)
    scheduler_dag.clear_dags = classmethod(lambda cls, *args, **kwargs: 0)  # type: ignore[attr-defined]
    # Airflow 2's dag.test() clears the logical date's task instances through the DAG itself
    original_dag_clear = scheduler_dag.__dict__["clear"] if is_airflow2() else None
    if original_dag_clear is not None:
        scheduler_dag.clear = lambda self, *args, **kwargs: 0  # type: ignore[attr-defined]
    try:
        yield
    finally:
        setattr(run_module, factory_name, original_get_or_create)
        scheduler_dag.clear_dags = original_clear  # type: ignore[attr-defined]
        if original_dag_clear is not None:
            scheduler_dag.clear = original_dag_clear  # type: ignore[attr-defined]


def _dag_test_run_helpers() -> tuple[ModuleType, str, type]:
    """(module, name) of the run factory ``dag.test()`` imports, and the class whose clear_dags it calls."""
    if before("3.1"):
        from airflow.models import dag as dag_module

        return dag_module, "_get_or_create_dagrun", dag_module.DAG
    from airflow.models import dagrun as dagrun_module

    if before("3.2"):
        from airflow.serialization.serialized_objects import SerializedDAG  # type: ignore[attr-defined]
    else:
        from airflow.serialization.definitions.dag import SerializedDAG
    return dagrun_module, "get_or_create_dagrun", SerializedDAG
