"""Taking Airflow's own log output while a run lasts, task instance by task instance.

Under ``dag.test()`` Airflow 3 logs in-process through structlog: its loggers render each event
with the last processor of structlog's configuration (Airflow's ``ConsoleRenderer``) and write the
line to ``sys.stdout``; records of the standard ``logging`` module reach the root logger, where
Airflow's console handler (a ``StreamHandler`` with structlog's ``ProcessorFormatter``) renders
them the same way. Both are taken here, rendered as Airflow renders them, and handed to a
:class:`LogSink` instead of stdout; the in-process supervisor's ``start`` marks where each task
instance begins and ends.

Nothing else changes: records still reach every other handler (the user's own, pytest's
``caplog``), task code's ``print`` still reaches stdout, and everything is put back when the run
ends. Handlers given as ``silenced`` (pytest's report handler) drop records for the while.

Airflow 2 has no Task SDK and logs a task to its own files: nothing is taken there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TextIO

from pytest_xcom._airflow.comms import patched, supervisor_class
from pytest_xcom._airflow.versions import is_airflow2

# Where a task instance sits in its run beside its task id and map index (Airflow 3.4): its region
# and index there. Iterations of a task loop differ in it (see loops.region_iterations); None before.
Region = tuple[str, int] | None


def instance_region(ti: Any) -> Region:
    region_id = getattr(ti, "region_id", None)
    return None if region_id is None else (str(region_id), int(getattr(ti, "region_index", -1)))


class LogSink(Protocol):
    """Where the log of a run goes, and where its task instances begin and end."""

    def task_started(self, task_id: str, map_index: int, try_number: int, region: Region = None) -> None: ...

    def task_ended(self, task_id: str, map_index: int, state: str, region: Region = None) -> None: ...

    def write(self, text: str) -> None: ...


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


class _Taking(logging.Filter):
    """On Airflow's console handler: the record, rendered by the handler's formatter, goes to the sink."""

    def __init__(self, handler: logging.Handler, sink: LogSink) -> None:
        super().__init__()
        self.handler = handler
        self.sink = sink

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self.sink.write(self.handler.format(record))
        except Exception:
            return True  # could not take it: the handler writes it as it always does
        return False


def _console_handlers() -> list[logging.Handler]:
    """Airflow's console handlers on the root logger: those rendering through structlog (3.1+),
    and Airflow 3.0's ``RedirectStdHandler`` with its classic formatter."""
    import structlog

    return [
        handler
        for handler in logging.getLogger().handlers
        if (
            type(handler) is logging.StreamHandler
            and isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
        )
        or type(handler).__module__ + "." + type(handler).__qualname__
        == "airflow.utils.log.logging_mixin.RedirectStdHandler"
    ]


@contextlib.contextmanager
def _filtered(handler: logging.Handler, log_filter: logging.Filter) -> Iterator[None]:
    handler.addFilter(log_filter)
    try:
        yield
    finally:
        handler.removeFilter(log_filter)


@contextlib.contextmanager
def _structlog_taken(sink: LogSink) -> Iterator[None]:
    """structlog's rendered lines go to the sink (the processor list stays the same object, as
    structlog's own ``capture_logs`` keeps it: loggers already made hold it)."""
    import structlog

    processors = structlog.get_config()["processors"]
    if not processors:
        yield
        return
    renderer = processors[-1]
    threshold = _airflow_logging_level()

    def taking(logger: Any, method_name: str, event_dict: Any) -> Any:
        # Airflow 3.0's in-process supervisor logs at DEBUG whatever [logging] logging_level says;
        # the task's log shows what that level asks for, as Airflow 3.1+ does.
        if _level(method_name, logging.CRITICAL) < threshold:
            raise structlog.DropEvent
        rendered = renderer(logger, method_name, event_dict)
        if isinstance(rendered, bytes):
            text = rendered.decode("utf-8", "replace")
        elif isinstance(rendered, str):
            text = rendered
        else:
            return rendered  # not a rendered line: it goes on as it would
        sink.write(text)
        raise structlog.DropEvent

    processors[-1] = taking
    try:
        yield
    finally:
        if processors[-1] is taking:
            processors[-1] = renderer


def _airflow_logging_level() -> int:
    """Airflow's ``[logging] logging_level`` (INFO unless the user's config says otherwise)."""
    from airflow.configuration import conf

    return _level(str(conf.get("logging", "logging_level", fallback="INFO")), logging.INFO)


def _level(name: str, unknown: int) -> int:
    """The number of a level name ("debug", "WARNING"...), ``unknown`` for names that are not levels."""
    number = logging.getLevelName(name.upper())  # a number for a level's name, a string otherwise
    return number if isinstance(number, int) else unknown


def _renderers(handlers: Sequence[logging.Handler]) -> list[Any]:
    """Airflow's console renderers whose exception formatter can be set (structlog's and the handlers')."""
    import structlog

    candidates = list(structlog.get_config().get("processors", []))
    for handler in handlers:
        candidates += list(getattr(handler.formatter, "processors", ()))
    found: list[Any] = []
    for candidate in candidates:
        if (
            isinstance(candidate, structlog.dev.ConsoleRenderer)
            and isinstance(getattr(type(candidate), "exception_formatter", None), property)
            and candidate not in found
        ):
            found.append(candidate)
    return found


@contextlib.contextmanager
def _tracebacks_formatted(
    format_exception: Callable[[BaseException], str], handlers: Sequence[logging.Handler]
) -> Iterator[None]:
    """A task's exception is logged with ``format_exception`` (the user's frames), not Airflow's whole stack."""

    def formatter(sio: TextIO, exc_info: Any) -> None:
        sio.write("\n" + format_exception(exc_info[1]).rstrip("\n"))

    formatter.pytest_xcom_compact = True  # type: ignore[attr-defined]
    saved = [(renderer, renderer.exception_formatter) for renderer in _renderers(handlers)]
    for renderer, _ in saved:
        renderer.exception_formatter = formatter
    try:
        yield
    finally:
        for renderer, original in saved:
            renderer.exception_formatter = original


def _task_boundaries(sink: LogSink) -> Callable[[Any], Any]:
    def factory(original: Any) -> Any:
        start = original.__func__

        def wrapped(cls: type, /, *, what: Any, task: Any, **kwargs: Any) -> Any:
            where = (what.task_id, what.map_index if what.map_index is not None else -1)
            region = instance_region(what)
            with contextlib.suppress(Exception):  # the witness never raises into Airflow
                sink.task_started(*where, int(getattr(what, "try_number", 1) or 1), region)
            state = "failed"
            try:
                result = start(cls, what=what, task=task, **kwargs)
                state = str(getattr(result.state, "value", result.state))
                return result
            finally:
                with contextlib.suppress(Exception):
                    sink.task_ended(*where, state, region)

        return classmethod(wrapped)

    return factory


@contextlib.contextmanager
def airflow_log_taken(
    sink: LogSink,
    *,
    silenced: Sequence[logging.Handler] = (),
    format_exception: Callable[[BaseException], str] | None = None,
) -> Iterator[None]:
    """Hand Airflow's log output to ``sink`` for the block (a no-op on Airflow 2).

    ``format_exception`` renders a task's exception in the log (default: as Airflow does).
    """
    if is_airflow2():
        yield
        return
    handlers = _console_handlers()
    with contextlib.ExitStack() as stack:
        if format_exception is not None:
            stack.enter_context(_tracebacks_formatted(format_exception, handlers))
        stack.enter_context(_structlog_taken(sink))
        for handler in handlers:
            stack.enter_context(_filtered(handler, _Taking(handler, sink)))
        for handler in silenced:
            stack.enter_context(_filtered(handler, _Drop()))
        stack.enter_context(patched(supervisor_class(), "start", _task_boundaries(sink)))
        yield


def is_compact_formatter(formatter: Any) -> bool:
    """Whether ``formatter`` is the exception formatter :func:`airflow_log_taken` set."""
    return bool(getattr(formatter, "pytest_xcom_compact", False))
