"""The single interception point on Airflow 3: the Task SDK's in-process supervisor channel.

Under ``dag.test()`` task code reaches the (in-process) supervisor through
``SUPERVISOR_COMMS.send(msg)``. Wrapping that one method sees every SetXCom, GetXCom,
GetXComSequenceItem/Slice and DeleteXCom, with the task instance that sent it, including the lazy
reads of mapped upstreams that never go through ``xcom_pull``. Three small markers add context the
messages do not carry: whether a read happens inside ``XComArg.resolve`` (an argument) or
``ti.xcom_pull`` (explicit), the object handed to the backend's ``serialize_value`` (what the task
pushed, before any offloading), and how each task instance ended.

Task loops (Airflow 3.4): a task instance's loop iteration comes from the run context it fetches
when it starts (wrapped ``task_runner.run``); a read inside a loop reads the same (or, through
``loop.previous``, the previous) iteration of its loop's tasks, and a read from outside the loop
reads every iteration as one sequence. The gate's ``LoopDecision`` reason travels with its
terminal-state message and is stored by the server as an XCom of the gate.

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
    comms_task_instance_id,
    dag_test_module,
    is_error_response,
    message_type,
    patched,
    runtime_task_instance_class,
    stored_key,
    supervisor_class,
    task_runner_module,
    workload_instance,
    xcom_arg_classes,
)
from pytest_xcom._airflow.loops import (
    LOOP_DECISION_REASON_KEY,
    enclosing_loops,
    loop_decision_reason,
    run_context_iteration,
)
from pytest_xcom._airflow.pushed_index import ALL_ITERATIONS, PushedIndex
from pytest_xcom._airflow.sink import (
    NOT_SEEN,
    Instance,
    XComEventSink,
    guarded,
    marking_argument_reads,
    marking_explicit_reads,
    read_context,
)
from pytest_xcom._airflow.versions import is_airflow2, keeps_xcoms_per_attempt
from pytest_xcom._airflow.xcom import stores_through_store_hook, xcom_backend_replaced

__all__ = ["NOT_SEEN", "Instance", "XComEventSink", "intercepted"]

class _Interceptor:
    def __init__(self, sink: XComEventSink, backend: type) -> None:
        self.sink = sink
        self.backend = backend
        self._pushed_objects: dict[tuple[str | None, int, str | None], Any] = {}
        self._pushed = PushedIndex()  # what has been pushed so far: reads look here
        self._purged = False
        self._deferred: Instance | None = None  # the task instance that deferred last
        self._running: dict[str, Instance] = {}  # task instance id -> the attempt running (or last run)
        self._loops: dict[str, str] = {}  # task_id -> its loop group, for the DAG being run
        self._per_attempt = keeps_xcoms_per_attempt()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            stack.enter_context(patched(comms_class(), "send", self._wrap_send))
            stack.enter_context(patched(supervisor_class(), "start", self._wrap_start))
            stack.enter_context(patched(task_runner_module(), "run", self._wrap_run))
            stack.enter_context(patched(dag_test_module(), "_run_inline_trigger", self._wrap_trigger))
            stack.enter_context(patched(runtime_task_instance_class(), "xcom_pull", self._wrap_xcom_pull))
            for cls in xcom_arg_classes():
                if "resolve" in cls.__dict__:
                    stack.enter_context(patched(cls, "resolve", self._wrap_resolve))
            stack.enter_context(xcom_backend_replaced(self._recording_backend()))
            yield

    def _recording_backend(self) -> type:
        """The run's backend with the push path observed: the pushed object, before serialization.

        From Airflow 3.4 on, the hook observed is ``_store``, which picks ``store_value`` or the
        legacy ``serialize_value`` by which one the backend overrides closest: overriding either
        one here would change that choice (and make a loop DAG fail Airflow's check that its
        backend keeps every iteration apart).
        """
        interceptor = self
        backend = self.backend

        def note(task_id: str | None, map_index: Any, key: str | None, value: Any) -> None:
            interceptor._pushed_objects[(task_id, -1 if map_index is None else map_index, key)] = value

        if stores_through_store_hook(backend):

            class RecordingXCom(backend):  # type: ignore[valid-type, misc]
                @classmethod
                def _store(cls, coordinate: Any, map_index: int, key: str, value: Any) -> Any:
                    value = as_real_time(value)  # a frozen clock's fake datetimes: production has real ones
                    stored = super()._store(coordinate, map_index, key, value)
                    note(coordinate.task_id, map_index, key, value)
                    return stored

        else:

            class RecordingXCom(backend):  # type: ignore[valid-type, misc, no-redef]
                @classmethod
                def serialize_value(cls, value: Any, **kwargs: Any) -> Any:
                    value = as_real_time(value)
                    stored = super().serialize_value(value, **kwargs)
                    note(kwargs.get("task_id"), kwargs.get("map_index", -1), kwargs.get("key"), value)
                    return stored

        class _Observed(RecordingXCom):
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

        _Observed.__name__ = backend.__name__
        _Observed.__qualname__ = backend.__qualname__
        _Observed.__module__ = backend.__module__
        return _Observed

    # -- wrappers -----------------------------------------------------------------------------

    def _wrap_send(self, original: Any) -> Any:
        interceptor = self

        def send(comms: Any, msg: Any) -> Any:
            response = original(comms, msg)
            kind = message_type(msg)
            if kind in XCOM_MESSAGES or loop_decision_reason(msg) is not None:
                try:
                    interceptor.observe(interceptor._instance_of(comms), kind, msg, response)
                except Exception as exc:  # the witness never raises into task code
                    interceptor.sink.on_internal_error(f"recording {kind}", exc)
            return response

        return send

    def _instance_of(self, comms: Any) -> Instance:
        """The attempt that owns an in-process comms channel (a trigger's channel has none)."""
        ti_id = comms_task_instance_id(comms)
        if ti_id is None:
            return Instance("", -1, 0)
        running = self._running.get(ti_id)
        return running if running is not None else workload_instance(comms.supervisor.ti)

    def _wrap_run(self, original: Any) -> Any:
        """``task_runner.run``: the attempt starts; its run context says its loop iteration."""
        interceptor = self
        sink = self.sink

        def run(ti: Any, *args: Any, **kwargs: Any) -> Any:
            instance = workload_instance(ti)._replace(iteration=run_context_iteration(ti))
            interceptor._running[str(ti.id)] = instance
            guarded(sink, "a task's start", interceptor._started, ti, instance)
            return original(ti, *args, **kwargs)

        return run

    def _started(self, ti: Any, instance: Instance) -> None:
        if not self._loops and ti.task.dag is not None:
            self._loops = enclosing_loops(ti.task.dag)
        if self._per_attempt and instance.try_number > 1:
            # Airflow 3.4 keeps an earlier attempt's XComs with that attempt: readers see this one's.
            self._pushed.forget_earlier_attempts(instance)
        self.sink.on_task_start(instance=instance)

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
                instance = interceptor._running.get(str(what.id)) or workload_instance(what)
                if state == "deferred":
                    interceptor._deferred = instance
                guarded(sink, "a task's end", sink.on_task_end, instance=instance, state=state, error=error)
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
            by = interceptor._deferred if ti is None else interceptor._running.get(str(ti.id), workload_instance(ti))
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
            self._pushed_now(by, msg)
        elif kind == "DeleteXCom":
            key = stored_key(msg.dag_id, msg.run_id, msg.task_id, msg.key)
            own = msg.task_id == by.task_id
            self.sink.on_delete(
                by=by,
                task_id=msg.task_id,
                map_index=msg.map_index,
                key=key,
                purged=self._purged,
                iteration=by.iteration if own else None,
            )
            self._purged = False
        elif kind == "GetXCom":
            self._single_read(by, msg, response)
        elif kind == "GetXComSequenceSlice":
            found = not is_error_response(response) and bool(getattr(response, "root", None))
            iteration = self._source_iteration(by, msg) if self._reads_one_iteration(by, msg) else None
            self._read(by, msg, None, iteration, found, default_kind="explicit")
        elif kind == "GetXComSequenceItem":
            self._sequence_item_read(by, msg, response)
        elif (reason := loop_decision_reason(msg)) is not None:
            # A gate's LoopDecision reason: the server stores it as an XCom of the gate itself.
            self.sink.on_push(
                by=by,
                task_id=by.task_id,
                map_index=by.map_index,
                key=LOOP_DECISION_REASON_KEY,
                stored=reason,
                pushed=reason,
                iteration=by.iteration,
                source="airflow",
            )
        # GetXComCount reads only how many values exist, not a value: not a read.

    def _pushed_now(self, by: Instance, msg: Any) -> None:
        map_index = msg.map_index if msg.map_index is not None else -1
        pushed = self._pushed_objects.pop((msg.task_id, map_index, msg.key), NOT_SEEN)
        key = stored_key(msg.dag_id, msg.run_id, msg.task_id, msg.key)
        # A task instance writing its own XCom writes it for its own iteration; one written for
        # another task through coordinates goes to whatever instance the server resolves them to.
        own = (msg.task_id, map_index) == (by.task_id, by.map_index)
        iteration = by.iteration if own else None
        attempt = by.try_number if own else 1
        self._pushed.add(msg.task_id, key, iteration, map_index, attempt)
        self.sink.on_push(
            by=by,
            task_id=msg.task_id,
            map_index=map_index,
            key=key,
            stored=msg.value,
            pushed=pushed,
            iteration=iteration,
        )

    def _reads_loop_from_outside(self, by: Instance, msg: Any) -> bool:
        """A read of a loop's task by a task that is not in that loop: every iteration, as one sequence."""
        loop = self._loops.get(msg.task_id)
        return loop is not None and self._loops.get(by.task_id) != loop

    def _reads_one_iteration(self, by: Instance, msg: Any) -> bool:
        """A read of a task of the reader's own loop: the reader's iteration (or the one before)."""
        loop = self._loops.get(msg.task_id)
        return loop is not None and self._loops.get(by.task_id) == loop

    def _source_iteration(self, by: Instance, msg: Any) -> int | None:
        if by.iteration is None:
            return None
        return by.iteration - 1 if getattr(msg, "previous_iteration", False) else by.iteration

    def _single_read(self, by: Instance, msg: Any, response: Any) -> None:
        key = stored_key(msg.dag_id, msg.run_id, msg.task_id, msg.key)
        source_index = msg.map_index if msg.map_index is not None else -1
        if self._reads_one_iteration(by, msg):
            iteration = self._source_iteration(by, msg)
        elif self._reads_loop_from_outside(by, msg):
            iteration = self._pushed.last_iteration(msg.task_id, key)
        else:
            iteration = None
        found = not is_error_response(response) and (
            getattr(response, "value", None) is not None or self._pushed.has(msg.task_id, key, iteration, source_index)
        )
        self._read(by, msg, source_index, iteration, found, default_kind="explicit")

    def _sequence_item_read(self, by: Instance, msg: Any, response: Any) -> None:
        key = stored_key(msg.dag_id, msg.run_id, msg.task_id, msg.key)
        scope: Any
        if self._reads_loop_from_outside(by, msg):
            scope = ALL_ITERATIONS  # every iteration's values, in iteration order, as one sequence
        elif self._reads_one_iteration(by, msg):
            scope = self._source_iteration(by, msg)
        else:
            scope = None
        positions = self._pushed.positions(msg.task_id, key, scope)
        found = not is_error_response(response)
        if not found and msg.offset == len(positions):
            return  # iteration probing one past the end: how a lazy sequence stops, not a read
        try:
            iteration, item_index = positions[msg.offset]  # negative offsets too: lazy sequences allow [-1]
        except IndexError:
            iteration, item_index = (scope if scope != ALL_ITERATIONS else None), None
        self._read(by, msg, item_index, iteration, found, default_kind="argument")

    def _read(
        self, by: Instance, msg: Any, source_index: int | None, iteration: int | None, found: bool, default_kind: str
    ) -> None:
        context = read_context.get()
        kind, task_ids_given = context if context is not None else (default_kind, True)
        if kind == "delete":
            return
        self.sink.on_read(
            by=by,
            dag_id=msg.dag_id,
            task_id=msg.task_id,
            map_index=source_index,
            key=stored_key(msg.dag_id, msg.run_id, msg.task_id, msg.key),
            found=found,
            kind=kind,
            task_ids_explicit=task_ids_given,
            include_prior_dates=bool(getattr(msg, "include_prior_dates", False)),
            source_iteration=iteration,
            previous_iteration=bool(getattr(msg, "previous_iteration", False)),
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
