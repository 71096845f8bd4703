"""Airflow 2.10 / 2.11: where the things the adapter reaches live when there is no Task SDK.

Airflow 2 keeps DAGs, decorators and the XCom class in ``airflow.models`` / ``airflow.decorators``,
runs tasks in ``dag.test()``'s own process through ``TaskInstance._run_raw_task``, and stores an
XCom as the bytes of its JSON (``BaseXCom.serialize_value``). The rest of the adapter calls these
functions when :func:`~pytest_xcom._airflow.versions.is_airflow2` says so.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from types import ModuleType
from typing import Any


def base_xcom_class() -> type:
    from airflow.models.xcom import BaseXCom

    return BaseXCom  # type: ignore[no-any-return]  # typed as Airflow 3 sees it


def serialize_payload(value: Any) -> Any:
    """The JSON document Airflow 2's own XCom stores for ``value`` (``XComEncoder``: serde inside)."""
    from airflow.utils.json import XComEncoder

    return json.loads(json.dumps(value, cls=XComEncoder))


def deserialize_payload(payload: Any) -> Any:
    from airflow.utils.json import XComDecoder

    return json.loads(json.dumps(payload), cls=XComDecoder)


def as_stored(raw: Any) -> Any:
    """What a row's ``value`` holds, as the version-neutral record keeps it: the JSON document.

    Airflow 2 stores the UTF-8 bytes of the JSON; anything else (pickled values with
    ``enable_xcom_pickling``, a backend's own bytes) stays as it is.
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        try:
            return json.loads(bytes(raw).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return bytes(raw)
    return raw


def as_row_value(stored: Any) -> Any:
    """The inverse of :func:`as_stored`: the bytes a row would hold."""
    if isinstance(stored, bytes):
        return stored
    return json.dumps(stored).encode("utf-8")


def xcom_holders() -> list[ModuleType]:
    """Modules whose ``XCom`` name task code goes through (resolved once, at import)."""
    from airflow.models import taskinstance
    from airflow.models import xcom as xcom_module

    return [xcom_module, taskinstance]


def resolved_xcom_backend() -> type:
    from airflow.models import xcom as xcom_module

    return xcom_module.XCom  # type: ignore[no-any-return]


def stored_row(backend: type, *, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> Any:
    """The XCom row itself (Airflow 2's ``purge`` and ``deserialize_value`` take the ORM object)."""
    from pytest_xcom._airflow.db import create_session

    with create_session() as session:
        row = (
            backend.get_many(  # type: ignore[attr-defined]
                run_id=run_id, key=key, task_ids=task_id, dag_ids=dag_id, map_indexes=map_index, session=session
            )
            .first()
        )
        if row is not None:
            session.expunge(row)
    return row


def dag_class() -> type[Any]:
    from airflow.models.dag import DAG

    return DAG  # type: ignore[no-any-return]


def dag_context() -> Any:
    from airflow.models.dag import DagContext

    return DagContext


def authoring() -> tuple[Any, Any]:
    from airflow.decorators import dag, task  # type: ignore[attr-defined]

    return dag, task


def is_mappable_value(value: Any) -> bool:
    from airflow.models.taskinstance import _is_mappable_value  # type: ignore[attr-defined]

    return bool(_is_mappable_value(value))


def run_dag_test(
    dag: Any, *, logical_date: datetime, conf: dict[str, Any] | None, mark_success_pattern: str | None
) -> Any:
    """Airflow 2's ``dag.test()`` takes ``execution_date``; the run id follows from it."""
    if mark_success_pattern is None:
        return dag.test(execution_date=logical_date, run_conf=conf)
    return dag.test(execution_date=logical_date, run_conf=conf, mark_success_pattern=mark_success_pattern)


def task_execution_holder() -> tuple[ModuleType, str]:
    """(module, name) of the function that runs a task's own code (``execute``), for the frozen clock."""
    from airflow.models import taskinstance

    return taskinstance, "_execute_task"


def write_xcom_row(key: str, stored: Any, dag_run: Any, session: Any, **where: Any) -> None:
    """Write an already serialized XCom row as ``BaseXCom.set`` writes it (which always serializes)."""
    from airflow.models.xcom import BaseXCom

    from pytest_xcom._airflow.db import replace_xcom_row

    replace_xcom_row(BaseXCom, key, as_row_value(stored), dag_run, session, **where)


_MISSING = object()


@contextlib.contextmanager
def replaced(owner: Any, name: str, make: Callable[[Any], Any]) -> Iterator[None]:
    """``owner.name = make(current)`` for the block; an inherited class attribute is deleted again after."""
    own = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, make(getattr(owner, name)))
    try:
        yield
    finally:
        if own is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, own)
