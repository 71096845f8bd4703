"""Backend probes the contract runs inside task code: what the running backend makes of a reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_xcom import _airflow


def describe(value: Any) -> dict[str, str]:
    """What a task received, in a form that travels back through any backend unharmed."""
    return {"repr": repr(value)[:500], "type": type(value).__name__}


def _outcome(read: Callable[[], Any]) -> dict[str, Any]:
    try:
        value = read()
    except Exception as exc:  # the contract wants to see exactly what the backend raised
        return {"outcome": "raised", "error": f"{type(exc).__name__}: {exc}"[:500]}
    return {"outcome": "returned", "value": describe(value)}


def read_stored_reference(reference: Any) -> dict[str, Any]:
    """Inside a task: what the running backend's reading hook (``load_value`` / ``deserialize_value``)
    makes of a stored value."""
    backend = _airflow.resolved_xcom_backend()
    return _outcome(lambda: _airflow.received_value(backend, reference))


def purge_then_read(ti: Any, *, task_id: str, key: str) -> dict[str, Any]:
    """Inside a task: purge what the backend stored for an XCom, then read that XCom again."""
    backend = _airflow.resolved_xcom_backend()
    row = _airflow.stored_row(backend, dag_id=ti.dag_id, run_id=ti.run_id, task_id=task_id, key=key)
    backend.purge(row)  # type: ignore[attr-defined]
    return _outcome(lambda: _airflow.read_row(backend, row))
