"""What the warm process of watch mode builds ahead of every run, on the Airflow side.

A cold one-test session spends most of its time before its test: importing Airflow and the Task
SDK, building the execution API app and generating its routes, and importing what a first
``dag.test()`` imports lazily. The warm process does that once; each run is a fork of it.

Two rules, because every run is forked from this process: nothing here imports user code, and
nothing leaves a DB connection, socket, thread or event loop behind in it. The one step that has
to run a DAG (pytest_xcom/watch/learn.py: which modules a ``dag.test()`` imports, and the schema
template) runs the DAG of ``warm_dag`` in a throwaway fork.
"""

from __future__ import annotations

import sys


def import_airflow() -> None:
    """Import Airflow, its models and the Task SDK's run machinery (configured for the isolated home)."""
    import airflow  # noqa: F401  (configures itself for the isolated home and DB; connects to nothing yet)
    import airflow.models  # noqa: F401

    from pytest_xcom._airflow.versions import is_airflow2

    if not is_airflow2():
        import airflow.sdk  # noqa: F401
        from airflow.sdk.execution_time import supervisor, task_runner  # noqa: F401


def build_ahead() -> None:
    """Build what a run's first ``dag.test()`` would: the execution API app and its newest version's
    routes (Airflow 3), the ORM mappers. Call after the modules a run imports are imported."""
    from pytest_xcom._airflow.api_server import build_server_ahead
    from pytest_xcom._airflow.versions import is_airflow2

    if not is_airflow2():
        build_server_ahead()
    _read_metrics_registries()
    from pytest_xcom._airflow.versions import schema_fingerprint

    schema_fingerprint()  # names the schema template every session looks for: read once, cached
    # SQLAlchemy configures the ORM mappers (relationships, polymorphic loaders of every model
    # imported so far) on a process's first query: about a second, without touching the DB.
    from sqlalchemy.orm import configure_mappers

    configure_mappers()


def _read_metrics_registries() -> None:
    """Airflow 3.3+ reads its metrics registry (a YAML file, about half a second) on a process's first
    metric, lazily; core and the Task SDK each have a copy of the module. Only the registry: the
    metrics backend (a StatsD client's socket) stays for the run to make."""
    for name, module in list(sys.modules.items()):
        # vars(), not getattr(): Airflow's deprecated-import shims warn on any attribute asked for
        read = vars(module).get("_get_registry") if name.endswith("observability.metrics.stats") else None
        if callable(read):
            read()


def open_db_connections() -> int:
    """Pooled metadata DB connections this process holds (a fork must inherit none)."""
    settings = sys.modules.get("airflow.settings")
    engine = getattr(settings, "engine", None) if settings else None
    pool = getattr(engine, "pool", None)
    if pool is None:
        return 0
    counts = [getattr(pool, name, lambda: 0)() for name in ("checkedin", "checkedout")]
    return sum(count for count in counts if isinstance(count, int))
