"""Partial runs: tasks marked success without running, and XComs given by the test.

``dag.test(mark_success_pattern=...)`` marks the tasks that do not run SUCCESS instead of running
them. The XComs the test gives in their place are written the way a real push writes them: the
value through the active backend (``serialize_value``; from Airflow 3.4 ``_store``, which calls
``store_value`` with the task instance's coordinate, so object paths are the task's own), validated
as the Task SDK's ``SetXCom`` message validates it, then the row as the execution API's ``set_xcom``
route writes it: with the ``TaskMap`` row a mapped downstream task expands over, or from 3.4 the
row's ``mapped_length``. They are written right after ``dag.test()`` creates the DAG run, before the
first task is scheduled (an XCom of a mapped instance as soon as that instance exists).
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pytest_xcom._airflow import af2
from pytest_xcom._airflow.clock import as_real_time
from pytest_xcom._airflow.dag_test import _dag_test_run_helpers
from pytest_xcom._airflow.dags import is_mapped, is_mapped_operator
from pytest_xcom._airflow.db import replace_xcom_row
from pytest_xcom._airflow.loops import enclosing_loops
from pytest_xcom._airflow.versions import is_airflow2, keeps_xcoms_per_attempt
from pytest_xcom._airflow.xcom import stores_through_store_hook
from pytest_xcom.errors import XComValueError

RETURN_KEY = "return_value"


class GivenLike(Protocol):
    """What the test gives (``pytest_xcom.Given``)."""

    @property
    def task_id(self) -> str: ...

    @property
    def value(self) -> Any: ...

    @property
    def key(self) -> str: ...

    @property
    def map_index(self) -> int: ...

    @property
    def label(self) -> str: ...


class GivenSink(Protocol):
    """Who hears of each given XCom once it is written (the recorder)."""

    def on_given(self, *, task_id: str, map_index: int, key: str, stored: Any, pushed: Any) -> None: ...

    def on_internal_error(self, where: str, error: Exception) -> None: ...


@dataclass(frozen=True)
class GivenRow:
    """One XCom row to write, with the ``TaskMap`` length when a mapped task expands over it."""

    task_id: str
    key: str
    map_index: int
    value: Any
    mapped_length: int | None
    label: str


def mark_success_pattern(task_ids: Iterable[str]) -> str | None:
    """The ``mark_success_pattern`` that ``fullmatch``es exactly these task ids (None: no task)."""
    ids = sorted(set(task_ids))
    return "(?:" + "|".join(re.escape(task_id) for task_id in ids) + ")" if ids else None


def _multiple_outputs(task: Any) -> bool:
    partial_kwargs = getattr(task, "partial_kwargs", None) or {}
    return bool(getattr(task, "multiple_outputs", False) or partial_kwargs.get("multiple_outputs"))


def given_rows(dag: Any, given: Iterable[GivenLike]) -> list[GivenRow]:
    """The rows a real push of each given XCom would write, checked as the task runner checks them.

    A given return value of a ``multiple_outputs`` task is unrolled into one XCom per key, as the
    task runner does; the return value of an unmapped task with mapped dependants must be a list
    or a dict, and its length is what they expand over.
    """
    from airflow.configuration import conf

    is_mappable_value = _mappable_check()
    looped = enclosing_loops(dag)
    rows: list[GivenRow] = []
    for item in given:
        task = dag.task_dict[item.task_id]
        if item.task_id in looped:
            raise XComValueError(
                f"upstream {item.label}: task {item.task_id!r} runs inside task loop {looped[item.task_id]!r}, where "
                "each iteration pushes its own XCom: an XCom given once cannot stand for every iteration. Run the "
                "loop's tasks (tasks=[...]) and give the XComs of the tasks the loop reads instead"
            )
        mapped = is_mapped(task)
        if mapped and item.map_index < 0:
            raise XComValueError(
                f"upstream {item.label}: task {item.task_id!r} is mapped, so its XComs belong to its mapped "
                f"instances: give each one with map_index=0, 1, ... (e.g. Given({item.task_id!r}, value, map_index=0))"
            )
        if not mapped and item.map_index >= 0:
            raise XComValueError(
                f"upstream {item.label}: task {item.task_id!r} is not mapped, so its XComs have map_index -1 "
                "(leave map_index out)"
            )
        if item.key == RETURN_KEY and _multiple_outputs(task):
            if not isinstance(item.value, Mapping) or not all(isinstance(k, str) for k in item.value):
                raise XComValueError(
                    f"upstream {item.label}: task {item.task_id!r} has multiple_outputs=True, so its return "
                    f"value is a dict with string keys (one XCom per key), not {type(item.value).__name__}"
                )
            rows += [GivenRow(item.task_id, k, item.map_index, v, None, item.label) for k, v in item.value.items()]
        mapped_length = None
        dependants = sorted(getattr(d, "node_id", "") for d in task.iter_mapped_dependants())
        if item.key == RETURN_KEY and not mapped and dependants:
            if not is_mappable_value(item.value):
                raise XComValueError(
                    f"upstream {item.label}: {', '.join(map(repr, dependants))} expand(s) over the return value "
                    f"of {item.task_id!r}, so it must be a list or a dict, not {type(item.value).__name__} "
                    "(a real push of it fails the task with UnmappableXComTypePushed)"
                )
            mapped_length = len(item.value)
            limit = conf.getint("core", "max_map_length", fallback=1024)
            if mapped_length > limit:
                raise XComValueError(
                    f"upstream {item.label}: {mapped_length} items are more than a mapped task may expand over "
                    f"([core] max_map_length = {limit})"
                )
        rows.append(GivenRow(item.task_id, item.key, item.map_index, item.value, mapped_length, item.label))
    return rows


def _mappable_check() -> Any:
    if is_airflow2():
        return af2.is_mappable_value
    from airflow.sdk.definitions.mappedoperator import is_mappable_value

    return is_mappable_value


def unexpandable_mapped_tasks(dag: Any, running: Iterable[str], rows: Iterable[GivenRow]) -> tuple[str, ...]:
    """Mapped tasks that do not run and have nothing to expand over: they are marked success whole.

    A mapped task expands over the return value of an unmapped upstream (its ``TaskMap`` row). When
    that upstream does not run and the test gave no return value for it, Airflow cannot expand the
    mapped task and marks it ``upstream_failed``, failing the run over a task the test chose not to
    run. If the mapped task is one the test runs, that is the test's mistake: a clear error.
    """
    ran = set(running)
    returned = {row.task_id for row in rows if row.key == RETURN_KEY and row.map_index < 0}
    whole: list[str] = []
    for task_id, task in dag.task_dict.items():
        if not is_mapped(task):
            continue
        nodes = [task] if is_mapped_operator(task) else []
        nodes += list(task.iter_mapped_task_groups())
        sources = {dep.task_id for node in nodes for dep in node.iter_mapped_dependencies()}
        missing = sorted(
            s for s in sources if s not in ran and s not in returned and not is_mapped(dag.task_dict[s])
        )
        if not missing:
            continue
        if task_id in ran:
            raise XComValueError(
                f"task {task_id!r} runs and expands over the return value of {', '.join(map(repr, missing))}, "
                "which does not run: give it in upstream= (e.g. upstream={"
                + ", ".join(f"{m!r}: [...]" for m in missing)
                + "}) or run it too"
            )
        whole.append(task_id)
    return tuple(whole)


@contextlib.contextmanager
def given_xcoms_written(
    rows: list[GivenRow], backend: type, sink: GivenSink, *, marked_whole: Iterable[str] = ()
) -> Iterator[None]:
    """Write ``rows`` into the DAG run ``dag.test()`` creates, before its first task is scheduled.

    ``backend`` is the run's XCom class (not the recording wrapper); ``sink`` hears of each row as
    soon as the DAG run exists. A row of a mapped task instance is written once that instance
    exists (the metadata DB's foreign keys want it): right after ``DagRun.update_state`` expands
    the mapped task, before the expanded instances are scheduled, as their own pushes would be.
    ``marked_whole``: mapped tasks marked success as a whole, unexpanded (see
    :func:`unexpandable_mapped_tasks`).
    """
    whole = sorted(set(marked_whole))
    if not rows and not whole:
        yield
        return
    from airflow.models.dagrun import DagRun

    run_module, factory_name, _ = _dag_test_run_helpers()
    original_factory = getattr(run_module, factory_name)
    original_update_state = DagRun.__dict__["update_state"]
    pending: list[GivenRow] = list(rows)  # rows not written yet: their task instance does not exist yet
    runs: list[tuple[str, str]] = []

    def get_or_create_dagrun(*, dag: Any, run_id: str, session: Any, **kwargs: Any) -> Any:
        dag_run = original_factory(dag=dag, run_id=run_id, session=session, **kwargs)
        try:
            runs.append((dag_run.dag_id, dag_run.run_id))
            _write_ready(pending, dag_run, session, backend, sink)
            _mark_unexpanded_success(whole, dag_run, session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return dag_run

    def update_state(dag_run: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_update_state(dag_run, *args, **kwargs)
        session = kwargs.get("session")
        if pending and session is not None and (dag_run.dag_id, dag_run.run_id) in runs:
            _write_ready(pending, dag_run, session, backend, sink)
        return result

    setattr(run_module, factory_name, get_or_create_dagrun)
    DagRun.update_state = update_state  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        setattr(run_module, factory_name, original_factory)
        DagRun.update_state = original_update_state  # type: ignore[method-assign]
    if pending:
        missing = ", ".join(f"{row.label} (instance {row.task_id}[{row.map_index}])" for row in pending)
        raise XComValueError(
            f"upstream {missing}: no such task instance existed in the run, so the XCom could not be given. "
            "A mapped task has one instance per item of what it expands over: give that too "
            "(e.g. the upstream's list), with at least as many items as the highest map_index + 1"
        )


def _mark_unexpanded_success(task_ids: list[str], dag_run: Any, session: Any) -> None:
    """Mark the unexpanded instance (map index -1) of each of these mapped tasks success."""
    if not task_ids:
        return
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import update

    session.execute(
        update(TaskInstance)
        .where(
            TaskInstance.dag_id == dag_run.dag_id,
            TaskInstance.run_id == dag_run.run_id,
            TaskInstance.task_id.in_(task_ids),
            TaskInstance.map_index == -1,
        )
        .values(state=TaskInstanceState.SUCCESS)
        .execution_options(synchronize_session=False)
    )


def _serialized(row: GivenRow, dag_run: Any, backend: type, instance: Any) -> Any:
    """The row's value through the backend, as the Task SDK would send a push of that task instance."""
    where = {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id, "task_id": row.task_id, "map_index": row.map_index}
    name = f"{backend.__module__}.{backend.__qualname__}"
    value = as_real_time(row.value)
    try:
        if stores_through_store_hook(backend):  # Airflow 3.4: store_value, with the instance's coordinate
            serialized = backend._store(_coordinate(dag_run, row, instance), row.map_index, row.key, value)  # type: ignore[attr-defined]
        else:
            serialized = backend.serialize_value(value=value, key=row.key, **where)  # type: ignore[attr-defined]
    except Exception as exc:
        raise XComValueError(
            f"upstream {row.label}: the XCom backend {name} cannot serialize "
            f"{row.key!r} ({type(row.value).__name__}): {type(exc).__name__}: {exc}"
        ) from exc
    if is_airflow2():  # no Task SDK message to validate: the row holds the bytes as they are
        return af2.as_stored(serialized)
    from airflow.sdk.execution_time.comms import SetXCom

    try:  # what the Task SDK checks before it sends a push to the execution API
        return SetXCom(key=row.key, value=serialized, **where).value
    except Exception as exc:
        raise XComValueError(
            f"upstream {row.label}: the XCom backend {name} serialized {row.key!r} to something that is not "
            f"JSON ({type(serialized).__name__}), which a real push cannot send either: {exc}"
        ) from exc


def _coordinate(dag_run: Any, row: GivenRow, instance: Any) -> Any:
    """The ``XComCoordinate`` a push of that task instance carries (its id, and its region if mapped)."""
    from uuid import UUID

    from airflow.sdk.bases.xcom import XComCoordinate  # type: ignore[attr-defined, unused-ignore]

    in_region = instance.region_id not in (None, UUID(int=0))
    return XComCoordinate(
        dag_run.dag_id,
        dag_run.run_id,
        row.task_id,
        instance.id,
        instance.region_id if in_region else None,
        instance.region_index if in_region else None,
    )


def _write_ready(pending: list[GivenRow], dag_run: Any, session: Any, backend: type, sink: GivenSink) -> None:
    """Write the pending rows whose task instance exists now; leave the others pending."""
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    instances = {
        (ti.task_id, ti.map_index): ti
        for ti in session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
        )
    }
    ready = [row for row in pending if (row.task_id, row.map_index) in instances]
    pending[:] = [row for row in pending if (row.task_id, row.map_index) not in instances]
    for row in ready:
        instance = instances[(row.task_id, row.map_index)]
        stored = _serialized(row, dag_run, backend, instance)
        _write(row, stored, dag_run, session, instance)
        try:
            sink.on_given(task_id=row.task_id, map_index=row.map_index, key=row.key, stored=stored, pushed=row.value)
        except Exception as exc:  # the recorder's own failure: reported, the run goes on
            sink.on_internal_error("recording a given XCom", exc)


def _write(row: GivenRow, stored: Any, dag_run: Any, session: Any, instance: Any) -> None:
    """Store one given XCom as the execution API stores a task's push (its mapped length included)."""
    if keeps_xcoms_per_attempt():  # Airflow 3.4: the row belongs to the attempt; no TaskMap table
        from airflow.models.xcom import XComModel

        XComModel.set_for_attempt(  # type: ignore[attr-defined, unused-ignore]
            task_instance_id=instance.id,
            key=row.key,
            value=stored,
            serialize=False,
            mapped_length=row.mapped_length,
            session=session,
        )
        return
    from airflow.models.taskmap import TaskMap

    where = {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id, "task_id": row.task_id, "map_index": row.map_index}
    if row.mapped_length is not None:
        session.merge(TaskMap(length=row.mapped_length, keys=None, **where))
    _set_row(row.key, stored, dag_run, session, **where)


def _set_row(key: str, stored: Any, dag_run: Any, session: Any, **where: Any) -> None:
    """The xcom row, written as the execution API's ``set_xcom`` route writes an already serialized value."""
    if is_airflow2():
        af2.write_xcom_row(key, stored, dag_run, session, **where)
        return
    from airflow.models.xcom import XComModel

    if "serialize" in inspect.signature(XComModel.set).parameters:  # not on Airflow 3.0
        XComModel.set(key=key, value=stored, serialize=False, session=session, **where)
        return
    # Airflow 3.0's XComModel.set always serializes; its route replaces the row itself.
    replace_xcom_row(XComModel, key, stored, dag_run, session, **where)
