"""Recording on Airflow 2.10 / 2.11, where there is no Task SDK and no supervisor channel.

``dag.test()`` runs every task in its own process, and task code reaches the metadata DB through
the XCom model class itself. So this module watches that layer, and hands the same
version-neutral events to the :class:`~pytest_xcom._airflow.sink.XComEventSink` as Airflow 3's
channel interception does:

- pushes: ``XCom.set`` (the object pushed is what reaches ``serialize_value``; what it returns is
  what the row stores);
- reads: ``taskinstance._xcom_pull``, which both ``ti.xcom_pull`` and ``XComArg.resolve`` (TaskFlow
  arguments, mapped upstreams included) go through; which rows a read matched is asked of the
  same query, on the same session, right after the read;
- deletes: ``XCom.clear`` (a task's XComs at its start, on a retry) and ``XCom.delete``, with
  ``purge`` noted;
- how each task instance ended: ``dag.test()``'s ``_run_task``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from typing import Any

from pytest_xcom._airflow.af2 import as_stored, replaced
from pytest_xcom._airflow.af2_lazy import LazyReads
from pytest_xcom._airflow.clock import as_real_time
from pytest_xcom._airflow.sink import (
    Instance,
    XComEventSink,
    guarded,
    marking_argument_reads,
    marking_explicit_reads,
    read_context,
)
from pytest_xcom._airflow.xcom import xcom_backend_replaced

# The task instance whose code runs now (dag.test() runs one at a time, in this process).
_running: contextvars.ContextVar[Instance | None] = contextvars.ContextVar("pytest_xcom_af2_running", default=None)

def _instance(ti: Any) -> Instance:
    return Instance(ti.task_id, ti.map_index, int(getattr(ti, "try_number", 1) or 1))


def _state(ti: Any) -> str:
    state = getattr(ti, "state", None)
    return str(getattr(state, "value", state)) if state is not None else "failed"


class _Af2Interceptor:
    def __init__(self, sink: XComEventSink, backend: type) -> None:
        self.sink = sink
        self.backend = backend
        self._serialized: dict[tuple[Any, Any, Any], tuple[Any, Any]] = {}  # where -> (pushed, raw)
        self._purged: set[tuple[str, int, str]] = set()
        self._lazy = LazyReads(sink)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from airflow.models import dag as dag_module
        from airflow.models import taskinstance, xcom_arg
        from airflow.ti_deps.deps.not_previously_skipped_dep import NotPreviouslySkippedDep

        backend = self.backend
        with contextlib.ExitStack() as stack:
            stack.enter_context(replaced(dag_module, "_run_task", self._wrap_run_task))
            stack.enter_context(replaced(taskinstance, "_xcom_pull", self._wrap_pull))
            stack.enter_context(replaced(taskinstance.TaskInstance, "xcom_pull", self._wrap_xcom_pull))
            for name in ("PlainXComArg", "MapXComArg", "ZipXComArg", "ConcatXComArg"):
                cls = getattr(xcom_arg, name, None)
                if cls is not None and "resolve" in cls.__dict__:
                    stack.enter_context(replaced(cls, "resolve", self._wrap_resolve))
            stack.enter_context(replaced(NotPreviouslySkippedDep, "_get_dep_statuses", _dependency_check))
            stack.enter_context(replaced(backend, "serialize_value", self._wrap_serialize))
            stack.enter_context(replaced(backend, "set", self._wrap_set))
            stack.enter_context(replaced(backend, "purge", self._wrap_purge))
            stack.enter_context(replaced(backend, "clear", self._wrap_clear))
            stack.enter_context(replaced(backend, "delete", self._wrap_delete))
            stack.enter_context(xcom_backend_replaced(backend))
            stack.enter_context(self._lazy.installed())
            yield

    # -- task instances -------------------------------------------------------------------------

    def _wrap_run_task(self, original: Any) -> Any:
        sink = self.sink

        def run_task(*, ti: Any, **kwargs: Any) -> Any:
            instance = _instance(ti)
            token = _running.set(instance)
            guarded(sink, "a task's start", sink.on_task_start, instance=instance)
            error: BaseException | None = None
            try:
                return original(ti=ti, **kwargs)
            except BaseException as exc:  # dag.test() logs it and goes on; the record keeps it
                error = exc
                raise
            finally:
                _running.reset(token)
                # Airflow 2 counts the attempt while it runs: the end names the attempt that ran.
                ended = _instance(ti)
                guarded(sink, "a task's end", sink.on_task_end, instance=ended, state=_state(ti), error=error)

        return run_task

    # -- pushes ---------------------------------------------------------------------------------

    def _wrap_serialize(self, original: Any) -> Any:
        interceptor = self

        def serialize_value(value: Any, **kwargs: Any) -> Any:
            value = as_real_time(value)  # a frozen clock's fake datetimes: production has real ones
            raw = original(value=value, **kwargs)
            where = (kwargs.get("task_id"), kwargs.get("map_index", -1), kwargs.get("key"))
            interceptor._serialized[where] = (value, raw)
            return raw

        return staticmethod(serialize_value)

    def _wrap_set(self, original: Any) -> Any:
        interceptor = self

        def set_(cls: type, *args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            named = dict(zip(("key", "value", "task_id", "dag_id"), args, strict=False)) | kwargs
            guarded(interceptor.sink, "a push", interceptor._pushed, named)
            return result

        return classmethod(set_)

    def _pushed(self, named: dict[str, Any]) -> None:
        task_id, key = named["task_id"], named["key"]
        map_index = named.get("map_index", -1)
        pushed, raw = self._serialized.pop((task_id, map_index, key), (named.get("value"), None))
        by = _running.get() or Instance(task_id, map_index, 1)
        self.sink.on_push(by=by, task_id=task_id, map_index=map_index, key=key, stored=as_stored(raw), pushed=pushed)

    # -- deletes --------------------------------------------------------------------------------

    def _wrap_purge(self, original: Any) -> Any:
        purged = self._purged

        def purge(xcom: Any, *args: Any, **kwargs: Any) -> Any:
            purged.add((xcom.task_id, xcom.map_index, xcom.key))
            return original(xcom, *args, **kwargs)

        return staticmethod(purge)

    def _wrap_clear(self, original: Any) -> Any:
        interceptor = self

        def clear(*args: Any, **kwargs: Any) -> Any:
            rows = guarded(interceptor.sink, "a clear", interceptor._rows_to_clear, kwargs) or []
            return interceptor._deleting(rows, original, *args, **kwargs)

        return staticmethod(clear)

    def _rows_to_clear(self, kwargs: dict[str, Any]) -> list[tuple[str, int, str]]:
        from airflow.models.xcom import BaseXCom

        from pytest_xcom._airflow.db import create_session

        def query(session: Any) -> list[tuple[str, int, str]]:
            q = session.query(BaseXCom.task_id, BaseXCom.map_index, BaseXCom.key).filter_by(
                dag_id=kwargs.get("dag_id"), task_id=kwargs.get("task_id"), run_id=kwargs.get("run_id")
            )
            if kwargs.get("map_index") is not None:
                q = q.filter_by(map_index=kwargs["map_index"])
            return [tuple(row) for row in q.all()]

        if kwargs.get("session") is not None:
            return query(kwargs["session"])
        with create_session() as session:
            return query(session)

    def _wrap_delete(self, original: Any) -> Any:
        interceptor = self

        def delete(cls: type, xcoms: Any, *args: Any, **kwargs: Any) -> Any:
            items = [xcoms] if hasattr(xcoms, "task_id") else list(xcoms)
            rows = [(x.task_id, x.map_index, x.key) for x in items]
            return interceptor._deleting(rows, original, items, *args, **kwargs)

        return classmethod(delete)

    def _deleting(self, rows: list[tuple[str, int, str]], call: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``call`` (a clear or delete of ``rows``) with reads marked as deletes, then record each row's delete."""
        token = read_context.set(("delete", True))
        try:
            result = call(*args, **kwargs)
        finally:
            read_context.reset(token)
        for row in rows:
            guarded(self.sink, "a delete", self._deleted, *row)
        return result

    def _deleted(self, task_id: str, map_index: int, key: str) -> None:
        by = _running.get() or Instance("", -1, 0)
        purged = (task_id, map_index, key) in self._purged
        self._purged.discard((task_id, map_index, key))
        self.sink.on_delete(by=by, task_id=task_id, map_index=map_index, key=key, purged=purged)

    # -- reads ----------------------------------------------------------------------------------

    def _wrap_resolve(self, original: Any) -> Any:
        return marking_argument_reads(self.sink, original)

    def _wrap_xcom_pull(self, original: Any) -> Any:
        return marking_explicit_reads(self.sink, original)

    def _wrap_pull(self, original: Any) -> Any:
        interceptor = self

        def xcom_pull(**kwargs: Any) -> Any:
            value = original(**kwargs)
            guarded(interceptor.sink, "a read", interceptor._observe_pull, kwargs, value)
            return value

        return xcom_pull

    def _observe_pull(self, kw: dict[str, Any], value: Any) -> None:
        """The reads one ``_xcom_pull`` made: one per source task (and map index asked for)."""
        context = read_context.get()
        kind, explicit = context if context is not None else ("explicit", True)
        if kind in ("delete", "dependency"):
            return
        from airflow.models.xcom import BaseXCom

        ti = kw["ti"]
        task_ids, key, map_indexes = kw.get("task_ids"), kw.get("key", "return_value"), kw.get("map_indexes")
        dag_id = kw.get("dag_id") or ti.dag_id
        prior = bool(kw.get("include_prior_dates", False))
        query = BaseXCom.get_many(
            key=key, run_id=ti.run_id, dag_ids=dag_id, task_ids=task_ids, map_indexes=map_indexes,
            include_prior_dates=prior, session=kw["session"],
        )
        rows = [tuple(r) for r in query.with_entities(BaseXCom.task_id, BaseXCom.map_index, BaseXCom.key).all()]
        by = _instance(ti)

        def read(task_id: str, map_index: int | None, found: bool, row_key: str | None = None) -> None:
            self.sink.on_read(
                by=by, dag_id=dag_id, task_id=task_id, map_index=map_index, key=row_key or key or "",
                found=found, kind=kind, task_ids_explicit=explicit, include_prior_dates=prior,
            )

        single = (task_ids is None or isinstance(task_ids, str)) and not isinstance(map_indexes, Iterable)
        if single and rows:
            task_id, index, row_key = rows[0]  # what `.first()` handed over
            if map_indexes is not None or index < 0:
                read(task_id, index, True, row_key)
            elif kind == "argument" and type(value).__name__ == "LazyXComSelectSequence":
                # a task's argument over a mapped upstream: read item by item, when the task does
                indexes = sorted(r[1] for r in rows if r[0] == task_id)
                self._lazy.watch(
                    value, indexes, by=by, dag_id=dag_id, task_id=task_id, key=row_key, kind=kind,
                    task_ids_explicit=explicit, include_prior_dates=prior,
                )
            else:  # an explicit pull of a mapped upstream: all its map indexes at once
                read(task_id, None, True, row_key)
            return
        if task_ids is None:
            wanted = list(dict.fromkeys(r[0] for r in rows)) or [ti.task_id]
        else:
            wanted = [task_ids] if isinstance(task_ids, str) else list(task_ids)
        for task_id in wanted:
            mine = [r for r in rows if r[0] == task_id]
            if isinstance(map_indexes, int):
                read(task_id, map_indexes, any(r[1] == map_indexes for r in mine))
            elif map_indexes is not None:
                for index in map_indexes:
                    read(task_id, index, any(r[1] == index for r in mine))
            elif mine:
                read(task_id, None if mine[0][1] >= 0 else -1, True, mine[0][2])
            else:
                read(task_id, None if _mapped(ti, task_id) else -1, False)


def _dependency_check(original: Any) -> Any:
    """The scheduler's skip check reads ``skipmixin_key`` between tasks: Airflow's housekeeping, not a read.

    (Airflow 3 makes that check in the scheduler, out of the task's sight.)
    """

    def statuses(dep: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        token = read_context.set(("dependency", True))
        try:
            found = list(original(dep, *args, **kwargs))
        finally:
            read_context.reset(token)
        yield from found

    return statuses


def _mapped(ti: Any, task_id: str) -> bool:
    """Whether ``task_id`` is a mapped task of the reader's DAG (a read of it spans map indexes)."""
    from pytest_xcom._airflow.dags import is_mapped

    dag = getattr(getattr(ti, "task", None), "dag", None)
    task = dag.task_dict.get(task_id) if dag is not None else None
    return task is not None and is_mapped(task)


@contextlib.contextmanager
def intercepted_af2(sink: XComEventSink, backend: type) -> Iterator[None]:
    """Report every XCom event of the block to ``sink`` on Airflow 2; ``backend`` is the run's XCom class."""
    with _Af2Interceptor(sink, backend).installed():
        yield
