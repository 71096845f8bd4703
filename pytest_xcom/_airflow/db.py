"""The metadata DB as Airflow sees it: engines, schema, sessions, task instance rows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def dispose_engines() -> None:
    """Close every pooled DB connection, sync and async, so the DB file can be replaced."""
    from airflow import settings

    if settings.Session is not None:
        settings.Session.remove()
    if settings.engine is not None:
        settings.engine.dispose()
    async_engine = getattr(settings, "async_engine", None)
    if async_engine is not None:
        # Closing aiosqlite connections outside an event loop logs a harmless MissingGreenlet error
        # (3.4): the harness's own housekeeping, not something the test that happens to be last did.
        with _quiet_loggers("sqlalchemy.pool", level="CRITICAL"):
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
def _quiet_loggers(*names: str, level: str = "WARNING") -> Iterator[None]:
    import logging

    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, saved in zip(loggers, levels, strict=True):
            lg.setLevel(saved)


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
    return [
        (task_id, map_index, str(state.value if hasattr(state, "value") else state) if state else None)
        for task_id, map_index, state in rows
    ]


def dag_run_state(dag_run: Any) -> str:
    state = dag_run.state
    return str(getattr(state, "value", state))


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


def replace_xcom_row(model: Any, key: str, value: Any, dag_run: Any, session: Any, **where: Any) -> None:
    """Replace one xcom row of ``model`` with ``value`` as stored, as the XCom ``set`` paths do."""
    from sqlalchemy import delete

    session.execute(
        delete(model).where(
            model.key == key,
            model.dag_id == where["dag_id"],
            model.run_id == where["run_id"],
            model.task_id == where["task_id"],
            model.map_index == where["map_index"],
        )
    )
    session.add(model(dag_run_id=dag_run.id, key=key, value=value, **where))
    session.flush()
