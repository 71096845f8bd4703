"""XCom serialization (serde) and the resolved XCom backend class."""

from __future__ import annotations

import contextlib
import sys
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


# Modules that import the resolved XCom class at their top: imported before re-pointing, so that a
# module Airflow imports only once a run needs it (3.4's task-loop accessor) cannot keep the old class.
_KNOWN_HOLDERS = (
    "airflow.sdk.execution_time.xcom",
    "airflow.sdk.execution_time.task_runner",
    "airflow.sdk.execution_time.loop",  # Airflow 3.4: loop.previous / loop.result read through it
)


def _xcom_holders() -> list[ModuleType]:
    """Modules that hold a reference to the resolved XCom backend class (``from ... import XCom``)."""
    if is_airflow2():
        return af2.xcom_holders()
    import importlib

    for name in _KNOWN_HOLDERS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    resolved = sys.modules["airflow.sdk.execution_time.xcom"].XCom
    return [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("airflow.") and vars(module).get("XCom") is resolved  # no module __getattr__ shims
    ]


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
    """What a reader of a row holding ``stored`` receives: the backend's ``load_value`` (Airflow 3.4's
    ``_load`` picks it or the legacy ``deserialize_value``), or ``deserialize_value`` before 3.4."""
    if is_airflow2():  # the row holds bytes there
        stored = af2.as_row_value(stored)
    if stores_through_store_hook(backend):
        return backend._load(_StoredRow(stored))  # type: ignore[attr-defined]
    return backend.deserialize_value(_StoredRow(stored))  # type: ignore[attr-defined]


def read_row(backend: type, row: Any) -> Any:
    """What a reader gets from an XCom row object (``XComResult``): ``load_value`` or ``deserialize_value``."""
    if stores_through_store_hook(backend):
        return backend._load(row)  # type: ignore[attr-defined]
    return backend.deserialize_value(row)  # type: ignore[attr-defined]


def stores_through_store_hook(backend: type) -> bool:
    """Whether Airflow stores this backend's pushes through ``BaseXCom._store`` (3.4), which calls
    the backend's ``store_value``, or its legacy ``serialize_value`` when it overrides only that."""
    return not is_airflow2() and callable(getattr(backend, "_store", None))


def stores_serde_payload(backend: type) -> bool:
    """Whether the backend's row holds exactly Airflow's serde payload of the value (no offloading).

    That is Airflow's own backend, or a subclass whose storing hook is still Airflow's: with 3.4's
    ``store_value`` the hook the backend prefers decides, before 3.4 ``serialize_value``.
    """
    base = base_xcom_class()
    if stores_through_store_hook(backend):
        from airflow.sdk.bases import xcom as sdk_xcom

        legacy = sdk_xcom._is_legacy_xcom_backend(backend)  # type: ignore[attr-defined, unused-ignore]
        hook = "serialize_value" if legacy else "store_value"
        return _defined_by(backend, hook) is base
    return _defined_by(backend, "serialize_value") is base


def _defined_by(cls: type, name: str) -> type | None:
    """The class of ``cls``'s MRO whose own namespace defines ``name`` (what an attribute lookup finds)."""
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)
