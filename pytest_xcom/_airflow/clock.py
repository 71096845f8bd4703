"""A frozen wall clock for task code, with Airflow's machinery kept on the real clock."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

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
