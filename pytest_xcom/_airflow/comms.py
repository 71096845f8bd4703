"""The interception points: the Task SDK's in-process supervisor channel and XCom reads."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from pytest_xcom._airflow.sink import Instance
from pytest_xcom._airflow.versions import before

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


def comms_task_instance_id(comms: Any) -> str | None:
    """The id of the task instance that owns an in-process comms channel (a trigger's channel: None)."""
    ti = getattr(comms.supervisor, "ti", None)
    return None if ti is None else str(ti.id)


def workload_instance(ti: Any) -> Instance:
    """(task_id, map_index, try_number) of a task instance as the supervisor was handed it."""
    return Instance(ti.task_id, ti.map_index, int(getattr(ti, "try_number", 1) or 1))


def task_runner_module() -> Any:
    """The module whose ``run(ti, context, log)`` the in-process supervisor calls for each attempt."""
    from airflow.sdk.execution_time import task_runner

    return task_runner


def stored_key(dag_id: str, run_id: str, task_id: str, key: str) -> str:
    """The key an XCom is stored under, as the execution API receives it.

    The Task SDK puts the key into the request URL's path unquoted (``xcoms/<dag>/<run>/<task>/<key>``):
    the server stores ``a`` for ``a?b`` (the rest is a query string) and for ``a#b`` (a fragment),
    and ``a/b`` for ``a%2Fb`` (percent-decoded). The record shows what was stored.
    """
    if not any(char in key for char in "?#%/."):
        return key  # nothing a URL would read differently (the common case, without parsing)
    url_class = _url_class()
    base = url_class("http://in-process.invalid./")
    prefix = base.join(f"xcoms/{dag_id}/{run_id}/{task_id}/").path
    path = base.join(f"xcoms/{dag_id}/{run_id}/{task_id}/{key}").path
    return path[len(prefix) :] if path.startswith(prefix) else key


@functools.cache
def _url_class() -> Any:
    """The URL class of the HTTP client the Task SDK talks to the execution API with."""
    if before("3.4"):
        import httpx

        return httpx.URL
    import httpx2

    return httpx2.URL


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


def dag_test_module() -> Any:
    """The module whose ``_run_inline_trigger`` ``dag.test()`` calls to run a deferred task's trigger."""
    from airflow.sdk.definitions import dag as dag_module

    return dag_module
