"""XCom serialization (serde) and the resolved XCom backend class."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from pytest_xcom._airflow import af2
from pytest_xcom._airflow.versions import is_airflow2


def base_xcom_class() -> type:
    if is_airflow2():
        return af2.base_xcom_class()
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
    if is_airflow2():
        return af2.serialize_payload(value)
    return _serde().serialize(value)


def deserialize_payload(payload: Any) -> Any:
    if is_airflow2():
        return af2.deserialize_payload(payload)
    return _serde().deserialize(payload)


def _xcom_holders() -> list[ModuleType]:
    """Modules that hold a reference to the resolved XCom backend class."""
    if is_airflow2():
        return af2.xcom_holders()
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time import xcom as xcom_module

    return [xcom_module, task_runner]


@contextlib.contextmanager
def xcom_backend_replaced(backend: type) -> Iterator[None]:
    """Re-point every reference to the resolved XCom class (resolved once at import) to ``backend``."""
    holders = _xcom_holders()
    originals = [module.XCom for module in holders]
    for module in holders:
        module.XCom = backend  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in zip(holders, originals, strict=True):
            module.XCom = original  # type: ignore[attr-defined]


def resolved_xcom_backend() -> type:
    """The XCom class task code uses right now (the configured backend, or the one a run installed)."""
    if is_airflow2():
        return af2.resolved_xcom_backend()
    from airflow.sdk.execution_time import xcom as xcom_module

    return xcom_module.XCom  # type: ignore[no-any-return]


def stored_row(backend: type, *, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> Any:
    """Inside a task: the metadata-DB reference of one XCom, as ``purge`` and ``deserialize_value`` take it."""
    if is_airflow2():
        return af2.stored_row(backend, dag_id=dag_id, run_id=run_id, task_id=task_id, key=key, map_index=map_index)
    return backend._get_xcom_db_ref(  # type: ignore[attr-defined]
        key=key, dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index
    )


class _StoredRow:
    """What ``deserialize_value`` reads: an object whose ``value`` is the row's stored value."""

    def __init__(self, value: Any) -> None:
        self.value = value


def received_value(backend: type, stored: Any) -> Any:
    """What a reader of a row holding ``stored`` receives: the backend's ``deserialize_value``."""
    if is_airflow2():  # the row holds bytes there
        stored = af2.as_row_value(stored)
    return backend.deserialize_value(_StoredRow(stored))  # type: ignore[attr-defined]
