"""The metadata DB as Airflow sees it: engines, schema, sessions, task instance rows."""

from __future__ import annotations

import asyncio
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
        _dispose_async(async_engine)


def _dispose_async(async_engine: Any) -> None:
    """Close the async engine's connections on the event loop they were opened on.

    Closing them synchronously (``sync_engine.dispose()``) makes aiosqlite raise ``MissingGreenlet``
    for each pooled connection, which SQLAlchemy logs as an error: from Airflow 3.4 on, the in-process
    execution API opens one for every write, so each test would log it.
    """
    from pytest_xcom._airflow.api_server import api_event_loop

    loop = api_event_loop()
    if loop is None:
        async_engine.sync_engine.dispose()
        return
    asyncio.run_coroutine_threadsafe(async_engine.dispose(), loop).result(timeout=60)


def initdb() -> None:
    """Create the full, migrated metadata schema (ORM create_all plus alembic stamp)."""
    from airflow.utils import db

    with _no_info_records():
        db.initdb()


@contextlib.contextmanager
def _no_info_records() -> Iterator[None]:
    """No INFO records anywhere while the harness builds its schema (alembic's and Airflow's db
    module's progress lines). Not a logger level: Airflow 2's alembic env runs ``fileConfig``
    mid-way, which sets the alembic loggers back to INFO (their lines would land in the first
    test's "Captured stderr setup")."""
    import logging

    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.INFO))
    try:
        yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def create_session() -> Iterator[Any]:
    from airflow.utils.session import create_session as _create_session

    with _create_session() as session:
        yield session


def task_instances(dag: Any, run_id: str) -> list[tuple[str, int, int | None, str | None]]:
    """(task_id, map_index, iteration, state) of every task instance of a run, straight from the DB.

    ``iteration`` is the loop iteration of a task inside a task loop (Airflow 3.4), else None; the
    ``map_index`` column of an unmapped task inside a loop holds its iteration too. From Airflow 3.4
    each attempt is a row of its own; Airflow's ORM shows the current attempts only.
    """
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    from pytest_xcom._airflow.loops import instance_iterations

    regional = hasattr(TaskInstance, "region_id")
    columns = [TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state]
    if regional:
        columns += [TaskInstance.region_id, TaskInstance.region_index]
    with create_session() as session:
        rows = session.execute(
            select(*columns).where(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run_id)
        ).all()
        iterations = instance_iterations(dag, dag.dag_id, run_id, session) if regional else {}
    found = []
    for row in rows:
        task_id, map_index, state = row[0], row[1], row[2]
        # Inside a loop the column holds the region index: an unmapped task's is its iteration.
        iteration = iterations.get((row[3], row[4])) if regional else None
        found.append((task_id, map_index, iteration, _state_text(state)))
    return found


def _state_text(state: Any) -> str | None:
    return str(state.value if hasattr(state, "value") else state) if state else None


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
