"""The interception points: the Task SDK's in-process supervisor channel and XCom reads."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

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


def comms_task_instance(comms: Any) -> tuple[str, int, int]:
    """(task_id, map_index, try_number) of the task instance that owns an in-process comms channel.

    A trigger run inline by ``dag.test()`` gets a channel of its own with no task instance:
    ("", -1, 0) then.
    """
    ti = getattr(comms.supervisor, "ti", None)
    if ti is None:
        return "", -1, 0
    return ti.task_id, ti.map_index, int(getattr(ti, "try_number", 1) or 1)


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
