"""The single interception point on Airflow 3: the Task SDK's in-process supervisor channel.

Under ``dag.test()`` task code reaches the (in-process) supervisor through
``SUPERVISOR_COMMS.send(msg)``. Wrapping that one method sees every SetXCom, GetXCom,
GetXComSequenceItem/Slice and DeleteXCom, with the task instance that sent it, including the lazy
reads of mapped upstreams that never go through ``xcom_pull``. Three small markers add context the
messages do not carry: whether a read happens inside ``XComArg.resolve`` (an argument) or
``ti.xcom_pull`` (explicit), the object handed to the backend's ``serialize_value`` (what the task
pushed, before any offloading), and how each task instance ended.

Everything seen is handed to an :class:`XComEventSink` in version-neutral terms, so nothing above
this module knows how Airflow carries XComs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pytest_xcom._airflow.clock import as_real_time
from pytest_xcom._airflow.comms import (
    XCOM_MESSAGES,
    comms_class,
    comms_task_instance,
    dag_test_module,
    is_error_response,
    message_type,
    patched,
    runtime_task_instance_class,
    supervisor_class,
    xcom_arg_classes,
)
from pytest_xcom._airflow.sink import (
    NOT_SEEN,
    Instance,
    XComEventSink,
    guarded,
    marking_argument_reads,
    marking_explicit_reads,
    read_context,
)
from pytest_xcom._airflow.versions import is_airflow2
from pytest_xcom._airflow.xcom import xcom_backend_replaced

__all__ = ["NOT_SEEN", "Instance", "XComEventSink", "intercepted"]

class _Interceptor:
    def __init__(self, sink: XComEventSink, backend: type) -> None:
        self.sink = sink
        self.backend = backend
        self._pushed_objects: dict[tuple[str | None, int, str | None], Any] = {}
        # (task_id, key) -> map indexes pushed so far: reads look here instead of scanning pushes
        self._pushed: dict[tuple[str, str], set[int]] = {}
        # (task_id, key) -> sorted(self._pushed[...]), kept until the next push of that XCom: a
        # fan-in reads a mapped upstream item by item, and sorting for each read is quadratic.
        self._sorted_pushed: dict[tuple[str, str], list[int]] = {}
        self._purged = False
        self._deferred: Instance | None = None  # the task instance that deferred last

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            stack.enter_context(patched(comms_class(), "send", self._wrap_send))
            stack.enter_context(patched(supervisor_class(), "start", self._wrap_start))
            stack.enter_context(patched(dag_test_module(), "_run_inline_trigger", self._wrap_trigger))
            stack.enter_context(patched(runtime_task_instance_class(), "xcom_pull", self._wrap_xcom_pull))
            for cls in xcom_arg_classes():
                if "resolve" in cls.__dict__:
                    stack.enter_context(patched(cls, "resolve", self._wrap_resolve))
            stack.enter_context(xcom_backend_replaced(self._recording_backend()))
            yield

    def _recording_backend(self) -> type:
        interceptor = self
        backend = self.backend

        class RecordingXCom(backend):  # type: ignore[valid-type, misc]
            @classmethod
            def serialize_value(cls, value: Any, **kwargs: Any) -> Any:
                value = as_real_time(value)  # a frozen clock's fake datetimes: production has real ones
                stored = super().serialize_value(value, **kwargs)
                where = (kwargs.get("task_id"), kwargs.get("map_index", -1), kwargs.get("key"))
                interceptor._pushed_objects[where] = value
                return stored

            @classmethod
            def purge(cls, xcom: Any, *args: Any) -> None:
                interceptor._purged = True
                super().purge(xcom, *args)

            @classmethod
            def delete(cls, *args: Any, **kwargs: Any) -> None:
                # delete() reads the row to know what to purge: housekeeping, not a consumer's read
                token = read_context.set(("delete", True))
                try:
                    super().delete(*args, **kwargs)
                finally:
                    read_context.reset(token)

        RecordingXCom.__name__ = backend.__name__
        RecordingXCom.__qualname__ = backend.__qualname__
        RecordingXCom.__module__ = backend.__module__
        return RecordingXCom

    # -- wrappers -----------------------------------------------------------------------------

    def _wrap_send(self, original: Any) -> Any:
        interceptor = self

        def send(comms: Any, msg: Any) -> Any:
            response = original(comms, msg)
            kind = message_type(msg)
            if kind in XCOM_MESSAGES:
                try:
                    interceptor.observe(comms_task_instance(comms), kind, msg, response)
                except Exception as exc:  # the witness never raises into task code
                    interceptor.sink.on_internal_error(f"recording {kind}", exc)
            return response

        return send

    def _wrap_start(self, original: Any) -> Any:
        interceptor = self
        sink = self.sink
        start = original.__func__

        def wrapped(cls: type, /, *, what: Any, task: Any, **kwargs: Any) -> Any:
            result, state, error = None, "failed", None
            try:
                result = start(cls, what=what, task=task, **kwargs)
                state, error = str(getattr(result.state, "value", result.state)), result.error
            except BaseException as exc:
                error = exc
                raise
            finally:
                if state == "deferred":
                    interceptor._deferred = (what.task_id, what.map_index, int(getattr(what, "try_number", 1) or 1))
                guarded(
                    sink,
                    "a task's end",
                    sink.on_task_end,
                    task_id=what.task_id,
                    map_index=what.map_index,
                    state=state,
                    error=error,
                )
            return result

        return classmethod(wrapped)

    def _wrap_trigger(self, original: Any) -> Any:
        """``dag.test()`` runs a deferred task's trigger inline: note the XComs its event carries.

        Airflow 3.3 passes the task instance along; 3.0-3.2 pass the trigger alone, so the task is
        the one that deferred last.
        """
        interceptor = self

        def run_inline_trigger(trigger: Any, *args: Any, **kwargs: Any) -> Any:
            event = original(trigger, *args, **kwargs)
            xcoms = getattr(event, "xcoms", None)
            ti = args[0] if args else kwargs.get("task_sdk_ti")
            by = interceptor._deferred if ti is None else (ti.task_id, ti.map_index, int(ti.try_number or 1))
            if xcoms and by is not None:
                name = f"{type(trigger).__module__}.{type(trigger).__qualname__}"
                sink = interceptor.sink
                guarded(sink, "a trigger event", sink.on_trigger_event, by=by, trigger=name, xcoms=dict(xcoms))
            return event

        return run_inline_trigger

    def _wrap_resolve(self, original: Any) -> Any:
        return marking_argument_reads(self.sink, original)

    def _wrap_xcom_pull(self, original: Any) -> Any:
        return marking_explicit_reads(self.sink, original)

    # -- messages -> events -------------------------------------------------------------------

    def observe(self, by: Instance, kind: str, msg: Any, response: Any) -> None:
        if kind == "SetXCom":
            map_index = msg.map_index if msg.map_index is not None else -1
            pushed = self._pushed_objects.pop((msg.task_id, map_index, msg.key), NOT_SEEN)
            self._pushed.setdefault((msg.task_id, msg.key), set()).add(map_index)
            self._sorted_pushed.pop((msg.task_id, msg.key), None)
            self.sink.on_push(
                by=by, task_id=msg.task_id, map_index=map_index, key=msg.key, stored=msg.value, pushed=pushed
            )
        elif kind == "DeleteXCom":
            self.sink.on_delete(by=by, task_id=msg.task_id, map_index=msg.map_index, key=msg.key, purged=self._purged)
            self._purged = False
        elif kind == "GetXCom":
            source_index = msg.map_index if msg.map_index is not None else -1
            found = not is_error_response(response) and (
                getattr(response, "value", None) is not None
                or source_index in self._pushed.get((msg.task_id, msg.key), ())
            )
            self._read(by, msg, source_index, found, default_kind="explicit")
        elif kind == "GetXComSequenceSlice":
            found = not is_error_response(response) and bool(getattr(response, "root", None))
            self._read(by, msg, None, found, default_kind="explicit")
        elif kind == "GetXComSequenceItem":
            indexes = self._sorted_indexes(msg.task_id, msg.key)
            found = not is_error_response(response)
            if not found and msg.offset == len(indexes):
                return  # iteration probing one past the end: how a lazy sequence stops, not a read
            item_index: int | None
            try:
                item_index = indexes[msg.offset]  # negative offsets too: lazy sequences allow [-1]
            except IndexError:
                item_index = None
            self._read(by, msg, item_index, found, default_kind="argument")
        # GetXComCount reads only how many values exist, not a value: not a read.

    def _sorted_indexes(self, task_id: str, key: str) -> list[int]:
        where = (task_id, key)
        if where not in self._sorted_pushed:
            self._sorted_pushed[where] = sorted(self._pushed.get(where, ()))
        return self._sorted_pushed[where]

    def _read(self, by: Instance, msg: Any, source_index: int | None, found: bool, default_kind: str) -> None:
        context = read_context.get()
        kind, task_ids_given = context if context is not None else (default_kind, True)
        if kind == "delete":
            return
        self.sink.on_read(
            by=by,
            dag_id=msg.dag_id,
            task_id=msg.task_id,
            map_index=source_index,
            key=msg.key,
            found=found,
            kind=kind,
            task_ids_explicit=task_ids_given,
            include_prior_dates=bool(getattr(msg, "include_prior_dates", False)),
        )


@contextlib.contextmanager
def intercepted(sink: XComEventSink, backend: type) -> Iterator[None]:
    """Report every XCom event of the block to ``sink``; ``backend`` is the run's XCom class."""
    if is_airflow2():  # no Task SDK: the XCom model layer is where Airflow 2 can be watched
        from pytest_xcom._airflow.af2_intercept import intercepted_af2

        with intercepted_af2(sink, backend):
            yield
        return
    with _Interceptor(sink, backend).installed():
        yield
