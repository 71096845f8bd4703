"""Every touch point with Airflow internals, and every Airflow-version branch, lives here.

The rest of pytest-xcom talks to Airflow only through the functions below, so that supporting a
new Airflow release means reading (and changing) this one module.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from importlib import metadata
from types import ModuleType
from typing import Any

AIRFLOW_DISTRIBUTIONS = ("apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk")


@functools.cache  # installed distributions do not change under a running process
def airflow_version() -> str:
    """The installed Airflow version, read without importing Airflow."""
    for name in ("apache-airflow", "apache-airflow-core"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def _airflow_before(release: str) -> bool:
    """Whether the installed Airflow is older than ``release`` (e.g. "3.1"); a 3.1 pre-release is not."""
    from packaging.version import Version

    return Version(Version(airflow_version()).base_version) < Version(release)


# (Airflow release prefix, distribution, first bad version, what to install): dependency releases
# that pip picks for an unconstrained install and that break every task under dag.test().
_BROKEN_DEPENDENCIES = (
    # The 3.0 execution API rejects the task-start request body with a 422 ("Input should be a
    # valid dictionary or object to extract fields from") on FastAPI >= 0.118 / Cadwyn >= 5.5.
    ("3.0.", "fastapi", "0.118", "fastapi<0.118"),
    # The 3.2 execution API cannot be built on FastAPI >= 0.156.1 (bisected): pydantic raises
    # "Model 'TITerminalStatePayload' needs a discriminator field". Airflow 3.3 caps FastAPI itself.
    ("3.2.", "fastapi", "0.156.1", "fastapi<0.156.1"),
)


def dependency_problems() -> list[str]:
    """Installed dependency versions known to make every task of ``dag.test()`` fail on this Airflow."""
    from packaging.version import Version

    found = []
    version = airflow_version()
    for prefix, dist, first_bad, fix in _BROKEN_DEPENDENCIES:
        if not version.startswith(prefix):
            continue
        try:
            installed = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        if Version(installed) >= Version(first_bad):
            found.append(
                f"apache-airflow {version} does not run tasks with {dist} {installed}: pip install '{fix}'"
            )
    return found


def schema_fingerprint() -> str:
    """What the migrated schema depends on: every installed Airflow distribution and SQLAlchemy."""
    parts = []
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("apache-airflow") or name == "sqlalchemy":
            parts.append(f"{name}=={dist.version}")
    return ";".join(sorted(set(parts)))


# --------------------------------------------------------------------------------------------
# Metadata DB
# --------------------------------------------------------------------------------------------


def sql_alchemy_conn() -> str:
    from airflow import settings

    return str(settings.SQL_ALCHEMY_CONN)


def dispose_engines() -> None:
    """Close every pooled DB connection, sync and async, so the DB file can be replaced."""
    from airflow import settings

    if settings.Session is not None:
        settings.Session.remove()
    if settings.engine is not None:
        settings.engine.dispose()
    async_engine = getattr(settings, "async_engine", None)
    if async_engine is not None:
        async_engine.sync_engine.dispose()


def initdb() -> None:
    """Create the full, migrated metadata schema (ORM create_all plus alembic stamp)."""
    from airflow.utils import db

    with _quiet_loggers("alembic", "airflow.utils.db"):
        db.initdb()


@contextlib.contextmanager
def create_session() -> Iterator[Any]:
    from airflow.utils.session import create_session as _create_session

    with _create_session() as session:
        yield session


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    import logging

    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


# --------------------------------------------------------------------------------------------
# DAG files and DAG structure
# --------------------------------------------------------------------------------------------


def dag_class() -> type[Any]:
    from airflow.sdk import DAG

    return DAG


def import_dag_file(path: str, module_name: str) -> tuple[ModuleType, list[Any]]:
    """Import a DAG file as Airflow's DAG processor does; return the module and its DAGs.

    DAGs bound to module globals and DAGs made by ``@dag`` functions called at module level
    (which Airflow auto-registers) are both found.
    """
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    DAG = dag_class()
    loader = importlib.machinery.SourceFileLoader(module_name, path)
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    DagContext.autoregistered_dags.clear()
    DagContext.current_autoregister_module_name = module_name
    sys.modules[module_name] = module
    try:
        loader.exec_module(module)
        found: list[Any] = [obj for obj in module.__dict__.values() if isinstance(obj, DAG)]
        for dag, _mod in list(DagContext.autoregistered_dags):
            if dag not in found:
                found.append(dag)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        DagContext.current_autoregister_module_name = None
        DagContext.autoregistered_dags.clear()
    for found_dag in found:
        found_dag.fileloc = path
    return module, found


def collapses_single_group_expansion() -> bool:
    """Whether this Airflow hands the single result of a mapped task group over as a bare value.

    Airflow 3.2.0 up to 3.3.2 do: the Task SDK computes the upstream map indexes itself, pulls
    with no ``map_indexes`` filter, and ``xcom_pull`` returns ``xcoms[0]`` when one value is found
    (apache/airflow#69036; fixed by apache/airflow#69075, which keeps it a one-element list).
    Airflow 3.0 and 3.1 hand over a one-element list: their execution API sends the upstream map
    indexes as a list with the task's run context, and a list of map indexes always pulls a list.
    """
    from packaging.version import Version

    return Version("3.2.0") <= Version(airflow_version()) <= Version("3.3.2")


def is_mapped(task: Any) -> bool:
    """A task is mapped when it is expanded itself or sits inside a mapped task group."""
    if getattr(task, "is_mapped", False):
        return True
    return task.get_closest_mapped_task_group() is not None


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
    return _airflow_before("3.3")


def _sync_single_dag_bag(module: ModuleType, bag: Any) -> None:
    """Write ``bag`` to the metadata DB as ``dag.test()`` does, under the dags-folder bundle."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        module.sync_bag_to_db(bag, bundle.name, bundle.version)
        return


# (factory, server): the in-process execution API reused across runs on Airflow < 3.3.
_api_server: tuple[Any, Any] | None = None


@contextlib.contextmanager
def _in_process_api_reused() -> Iterator[None]:
    """One in-process execution API server per process, as Airflow 3.3 keeps it (``lru_cache``).

    Airflow 3.0 to 3.2 build a new FastAPI/Cadwyn app for every task instance (about a second of
    CPU each, most of a small DAG's run time) and drop the object that owns the app's lifespan right
    away. On 3.2 with svcs >= 26 that lifespan's exit detaches the services registry, and every
    request of the task then fails with "'State' object has no attribute 'svcs_registry'".
    Keeping the server alive fixes both.
    """
    from airflow.sdk.execution_time import supervisor

    factory = getattr(supervisor, "in_process_api_server", None)
    if factory is None or hasattr(factory, "cache_info"):  # Airflow >= 3.3 caches it itself
        yield
        return

    def reused() -> Any:
        global _api_server
        if _api_server is None or _api_server[0] is not factory:
            _api_server = (factory, factory())
        return _api_server[1]

    supervisor.in_process_api_server = reused  # type: ignore[assignment]
    try:
        yield
    finally:
        supervisor.in_process_api_server = factory


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
    if _airflow_before("3.1"):
        from airflow.utils.dag_cycle_tester import check_cycle

        check_cycle(dag)


def pushes_none() -> bool:
    """Whether ``ti.xcom_push(key, None)`` works: Airflow 3.0's execution API answers 422 ("Field required")."""
    return not _airflow_before("3.1")


def run_dag_test(dag: Any, *, logical_date: datetime, conf: dict[str, Any] | None) -> Any:
    """Run ``dag.test()`` with a deterministic run id; returns the DagRun."""
    _check_cycle(dag)
    with warnings.catch_warnings(), _in_process_api_reused(), _plain_task_tracebacks():
        # Airflow's in-process execution API imports starlette's test client, which warns about
        # its own httpx dependency: noise from Airflow's machinery, not from the user's DAG.
        warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
        # run_after defaults to "now" and feeds the run id; pin it so run ids are reproducible.
        return dag.test(logical_date=logical_date, run_after=logical_date, run_conf=conf)


@functools.cache
def _airflow_dirs() -> tuple[str, ...]:
    import airflow

    return tuple(os.path.join(path, "") for path in airflow.__path__)


def is_airflow_frame(filename: str) -> bool:
    """Whether a traceback frame belongs to Airflow itself (task runner, operators, providers)."""
    return filename.startswith(_airflow_dirs())


def task_instances(dag_id: str, run_id: str) -> list[tuple[str, int, str | None]]:
    """(task_id, map_index, state) of every task instance of a run, straight from the DB."""
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ).all()
    return [(task_id, map_index, str(state.value if hasattr(state, "value") else state) if state else None)
            for task_id, map_index, state in rows]


def dag_run_state(dag_run: Any) -> str:
    state = dag_run.state
    return str(getattr(state, "value", state))


# --------------------------------------------------------------------------------------------
# XCom serialization and backends
# --------------------------------------------------------------------------------------------


def base_xcom_class() -> type:
    from airflow.sdk.bases.xcom import BaseXCom

    return BaseXCom


def _serde() -> ModuleType:
    """Airflow's serde: ``airflow.sdk.serde`` from 3.2, ``airflow.serialization.serde`` before."""
    try:
        from airflow.sdk import serde
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.serialization import serde  # type: ignore[no-redef,attr-defined]
    return serde


def serialize_payload(value: Any) -> Any:
    """The JSON-ready form Airflow's own XCom serialization gives a value (serde)."""
    return _serde().serialize(value)


def deserialize_payload(payload: Any) -> Any:
    return _serde().deserialize(payload)


def _xcom_holders() -> list[ModuleType]:
    """Modules that hold a reference to the resolved XCom backend class."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time import xcom as xcom_module

    return [xcom_module, task_runner]


@contextlib.contextmanager
def xcom_backend_replaced(backend: type) -> Iterator[None]:
    """Re-point every reference to the resolved XCom class (resolved once at import) to ``backend``."""
    holders = _xcom_holders()
    originals = [module.XCom for module in holders]  # type: ignore[attr-defined]
    for module in holders:
        module.XCom = backend  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in zip(holders, originals):
            module.XCom = original  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# The interception points (Task SDK in-process supervisor)
# --------------------------------------------------------------------------------------------

XCOM_MESSAGES = (
    "SetXCom",
    "GetXCom",
    "GetXComCount",
    "GetXComSequenceItem",
    "GetXComSequenceSlice",
    "DeleteXCom",
)


def message_type(msg: Any) -> str:
    return type(msg).__name__


def is_error_response(response: Any) -> bool:
    return type(response).__name__ == "ErrorResponse"


@contextlib.contextmanager
def patched(owner: Any, name: str, factory: Callable[[Any], Any]) -> Iterator[None]:
    """Replace ``owner.name`` with ``factory(original)`` for the duration of the block."""
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    wrapped = factory(original)
    setattr(owner, name, wrapped)
    try:
        yield
    finally:
        setattr(owner, name, original)


def comms_class() -> type:
    from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms

    return InProcessSupervisorComms


def comms_task_instance(comms: Any) -> tuple[str, int]:
    """(task_id, map_index) of the task instance that owns an in-process comms channel."""
    ti = comms.supervisor.ti
    return ti.task_id, ti.map_index


def supervisor_class() -> type:
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

    return InProcessTestSupervisor


def runtime_task_instance_class() -> type:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    return RuntimeTaskInstance


def xcom_arg_classes() -> list[type]:
    """XComArg classes whose ``resolve`` reads upstream XComs as task arguments."""
    from airflow.sdk.definitions import xcom_arg

    return [
        getattr(xcom_arg, name)
        for name in ("PlainXComArg", "MapXComArg", "ZipXComArg", "ConcatXComArg")
        if hasattr(xcom_arg, name)
    ]


# --------------------------------------------------------------------------------------------
# Airflow's object-storage XCom backend (common-io provider)
# --------------------------------------------------------------------------------------------

OBJECT_STORAGE_SECTION = "AIRFLOW__COMMON_IO__"


def object_storage_backend() -> type:
    try:
        from airflow.providers.common.io.xcom.backend import XComObjectStorageBackend
    except ImportError as exc:
        raise ImportError(
            "the 's3' XCom backend needs Airflow's common-io and amazon providers and s3fs: "
            'pip install "pytest-xcom[s3]"'
        ) from exc
    _import_provider_filesystems()
    return XComObjectStorageBackend  # type: ignore[no-any-return]


def _import_provider_filesystems() -> None:
    """Import the filesystem modules providers declare (``airflow.providers.amazon.aws.fs.s3``, ...).

    Airflow 3.0 loads them with ``import_string``, which finds a submodule only once something
    has imported it; newer amazon providers no longer do, so ``s3://`` paths fail with
    'Module "airflow.providers.amazon.aws.fs" does not define a "s3" attribute'. 3.1+ import them.
    """
    if not _airflow_before("3.1"):
        return
    from airflow.providers_manager import ProvidersManager

    for module_name in ProvidersManager().filesystem_module_names:
        with contextlib.suppress(ImportError):
            importlib.import_module(module_name)


def object_storage_settings(path: str, threshold: int, compression: str | None) -> dict[str, str | None]:
    """Environment variables that configure the object-storage backend."""
    return {
        f"{OBJECT_STORAGE_SECTION}XCOM_OBJECTSTORAGE_PATH": path,
        f"{OBJECT_STORAGE_SECTION}XCOM_OBJECTSTORAGE_THRESHOLD": str(threshold),
        f"{OBJECT_STORAGE_SECTION}XCOM_OBJECTSTORAGE_COMPRESSION": compression,
    }


def clear_object_storage_caches() -> None:
    """Forget settings and filesystems the object-storage backend cached (functools.cache)."""
    with contextlib.suppress(ImportError):
        from airflow.providers.common.io.xcom import backend

        for name in ("_get_base_path", "_get_compression", "_get_threshold"):
            cached = getattr(backend, name, None)
            if cached is not None and hasattr(cached, "cache_clear"):
                cached.cache_clear()
    with contextlib.suppress(ImportError):
        from airflow.sdk.io import store

        store._STORE_CACHE.clear()  # type: ignore[attr-defined]
    with contextlib.suppress(ImportError):
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()


def compression_supported(compression: str) -> bool:
    import fsspec.utils

    return compression in fsspec.utils.compressions.values()


# --------------------------------------------------------------------------------------------
# Frozen wall clock for task code
# --------------------------------------------------------------------------------------------

# Airflow's machinery, and what it runs on, keeps the real clock: freezegun leaves these
# modules unpatched (so pydantic never meets freezegun's fake datetime class) and gives them
# real time when they ask.
MACHINERY_MODULES = (
    "airflow",
    "pydantic",
    "pydantic_core",
    "fastapi",
    "starlette",
    "cadwyn",
    "sqlalchemy",
    "alembic",
    "httpx",
    "httpcore",
    "anyio",
    "a2wsgi",
    "uvicorn",
    "structlog",
    "pytest_xcom",
    "_pytest",
    "moto",
    "werkzeug",
    "botocore",
    "aiobotocore",
    "s3transfer",
    "fsspec",
    "s3fs",
    "fakeredis",
)


@contextlib.contextmanager
def frozen_task_clock(moment: datetime) -> Iterator[None]:
    """While the block runs, each task's own code runs with the wall clock frozen at ``moment``.

    Only the task's execution is frozen: Airflow imports much of itself lazily during a run,
    and a module imported under freezegun binds its fake datetime class, which pydantic then
    refuses to build schemas for.
    """
    from airflow.sdk.execution_time import task_runner

    original = task_runner._execute_task

    def execute_frozen(*args: Any, **kwargs: Any) -> Any:
        with frozen_clock(moment):
            return original(*args, **kwargs)

    task_runner._execute_task = execute_frozen
    try:
        yield
    finally:
        task_runner._execute_task = original


@contextlib.contextmanager
def frozen_clock(moment: datetime) -> Iterator[None]:
    """Freeze the wall clock at ``moment`` for everything but Airflow's machinery."""
    import freezegun
    from freezegun import api as freezegun_api

    # Decide per call by the immediate caller only: task code runs under several Airflow
    # frames, and looking further up the stack would hand it the real time too.
    limit = freezegun_api.call_stack_inspection_limit
    freezegun_api.call_stack_inspection_limit = 1
    try:
        with freezegun.freeze_time(moment, ignore=list(MACHINERY_MODULES)):
            yield
    finally:
        freezegun_api.call_stack_inspection_limit = limit


# --------------------------------------------------------------------------------------------
# Backend probes run inside task code by the backend contract
# --------------------------------------------------------------------------------------------


def _outcome(read: Callable[[], Any]) -> dict[str, Any]:
    from pytest_xcom.contract_dags import describe

    try:
        value = read()
    except Exception as exc:  # the contract wants to see exactly what the backend raised
        return {"outcome": "raised", "error": f"{type(exc).__name__}: {exc}"[:500]}
    return {"outcome": "returned", "value": describe(value)}


def read_stored_reference(reference: Any) -> dict[str, Any]:
    """Inside a task: what the running backend's deserialize_value makes of a stored value."""
    from airflow.sdk.execution_time import xcom as xcom_module

    backend = xcom_module.XCom
    return _outcome(lambda: backend.deserialize_value(_StoredValue(reference)))


def purge_then_read(ti: Any, *, task_id: str, key: str) -> dict[str, Any]:
    """Inside a task: purge what the backend stored for an XCom, then read that XCom again."""
    from airflow.sdk.execution_time import xcom as xcom_module

    backend = xcom_module.XCom
    row = backend._get_xcom_db_ref(key=key, dag_id=ti.dag_id, task_id=task_id, run_id=ti.run_id, map_index=-1)
    backend.purge(row)
    return _outcome(lambda: backend.deserialize_value(row))


class _StoredValue:
    """The shape deserialize_value reads: an object with the stored ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value


# --------------------------------------------------------------------------------------------
# Clearing task instances the way Airflow's "Clear" does, and resuming the same DAG run
# --------------------------------------------------------------------------------------------


def clear_task_instances(dag_id: str, run_id: str, task_ids: list[str]) -> int:
    """Clear task instances with Airflow's own ``clear_task_instances`` (what the UI's Clear does).

    The XCom rows stay; the worker deletes them (and the backend purges) when the task runs again.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstance import clear_task_instances as airflow_clear
    from sqlalchemy import select

    with create_session() as session:
        tis = list(
            session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id.in_(task_ids),
                )
            )
        )
        airflow_clear(tis, session)
    return len(tis)


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
    try:
        yield
    finally:
        setattr(run_module, factory_name, original_get_or_create)
        scheduler_dag.clear_dags = original_clear  # type: ignore[attr-defined]


def _dag_test_run_helpers() -> tuple[ModuleType, str, type]:
    """(module, name) of the run factory ``dag.test()`` imports, and the class whose clear_dags it calls."""
    if _airflow_before("3.1"):
        from airflow.models import dag as dag_module

        return dag_module, "_get_or_create_dagrun", dag_module.DAG
    from airflow.models import dagrun as dagrun_module

    if _airflow_before("3.2"):
        from airflow.serialization.serialized_objects import SerializedDAG
    else:
        from airflow.serialization.definitions.dag import SerializedDAG
    return dagrun_module, "get_or_create_dagrun", SerializedDAG
