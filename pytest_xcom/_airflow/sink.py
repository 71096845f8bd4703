"""What the interception reports to, in version-neutral terms, shared by Airflow 3's and 2's interception."""

from __future__ import annotations

import contextvars
from typing import Any, NamedTuple, Protocol

# "argument" inside XComArg.resolve, ("explicit", task_ids_given) inside ti.xcom_pull,
# ("delete", True) while the backend reads a row only to purge it.
read_context: contextvars.ContextVar[tuple[str, bool] | None] = contextvars.ContextVar(
    "pytest_xcom_read_context", default=None
)

NOT_SEEN: Any = object()  # the pushed object was not seen (the push bypassed serialize_value)


class Instance(NamedTuple):
    """A task instance attempt: who pushed, read or deleted an XCom.

    ``iteration`` is the loop iteration (Airflow 3.4's ``loop.index``) of a task inside a task loop,
    None elsewhere and before Airflow 3.4. A trigger run inline has no task instance: ("", -1, 0).
    """

    task_id: str
    map_index: int
    try_number: int
    iteration: int | None = None



class XComEventSink(Protocol):
    """What the interception reports to (the recorder). Its methods may raise: the interception
    hands any exception to ``on_internal_error`` instead of letting it reach task code."""

    def on_push(
        self,
        *,
        by: Instance,
        task_id: str,
        map_index: int,
        key: str,
        stored: Any,
        pushed: Any,
        iteration: int | None = None,
        source: str = "task",
    ) -> None: ...

    def on_delete(
        self, *, by: Instance, task_id: str, map_index: int | None, key: str, purged: bool, iteration: int | None = None
    ) -> None: ...

    def on_read(
        self,
        *,
        by: Instance,
        dag_id: str,
        task_id: str,
        map_index: int | None,
        key: str,
        found: bool,
        kind: str,
        task_ids_explicit: bool,
        include_prior_dates: bool,
        source_iteration: int | None = None,
        previous_iteration: bool = False,
    ) -> None: ...

    def read_count(self) -> int: ...

    def on_received(self, first_read: int, value: Any) -> None: ...

    def on_task_start(self, *, instance: Instance) -> None: ...

    def on_task_end(self, *, instance: Instance, state: str, error: BaseException | None) -> None: ...

    def on_internal_error(self, where: str, error: Exception) -> None: ...

    def on_trigger_event(self, *, by: Instance, trigger: str, xcoms: dict[str, Any]) -> None: ...


def guarded(sink: XComEventSink, where: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    """Call into the sink; an exception there is the harness's own, reported, never raised."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:
        sink.on_internal_error(f"recording {where}", exc)
        return None


def marking_argument_reads(sink: XComEventSink, original: Any) -> Any:
    """``XComArg.resolve`` that marks the reads inside it as arguments, and reports what the task received."""

    def resolve(arg: Any, *args: Any, **kwargs: Any) -> Any:
        token = read_context.set(("argument", True))
        first = guarded(sink, "a read", sink.read_count) or 0
        try:
            value = original(arg, *args, **kwargs)
        finally:
            read_context.reset(token)
        guarded(sink, "an argument read", sink.on_received, first, value)
        return value

    return resolve


def marking_explicit_reads(sink: XComEventSink, original: Any) -> Any:
    """``ti.xcom_pull`` that marks the reads inside it as explicit (and whether task_ids were named)."""

    def xcom_pull(ti: Any, task_ids: Any = None, *args: Any, **kwargs: Any) -> Any:
        if read_context.get() is not None:  # resolving an argument: Airflow's read, not the user's
            return original(ti, task_ids, *args, **kwargs)
        token = read_context.set(("explicit", task_ids is not None))
        first = guarded(sink, "a read", sink.read_count) or 0
        try:
            value = original(ti, task_ids, *args, **kwargs)
        finally:
            read_context.reset(token)
        guarded(sink, "an xcom_pull", sink.on_received, first, value)
        return value

    return xcom_pull
