"""Runs one DAG through ``dag.test()`` with recording on and turns the result into an XComRun."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.errors import DagRunError, RecordingError, XComError, XComTypeError, XComValueError
from pytest_xcom.isolation.env import environ_restored
from pytest_xcom.isolation.signals import signal_handlers_restored
from pytest_xcom.record.events import instance_label
from pytest_xcom.record.given import PartialRun
from pytest_xcom.record.run import XComRun
from pytest_xcom.recording.airflow_log import RunLog
from pytest_xcom.recording.recorder import Recorder, format_task_exception
from pytest_xcom.recording.restore import process_state_restored

DEFAULT_LOGICAL_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)

DateLike = datetime | str | None


def coerce_logical_date(value: DateLike) -> datetime:
    if value is None:
        return DEFAULT_LOGICAL_DATE
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise XComValueError(
                f"logical_date {value!r} is not an ISO 8601 date or datetime "
                "(e.g. '2026-01-01' or '2026-01-01T06:00:00+00:00')"
            ) from None
    if not isinstance(value, datetime):
        raise XComTypeError(f"logical_date must be a datetime or an ISO string, not {type(value).__name__}")
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def coerce_freeze_time(value: Any, logical_date: datetime) -> datetime | None:
    """None/False: no freezing; True: the logical date; else a datetime or ISO string."""
    if value is None or value is False:
        return None
    if value is True:
        return logical_date
    try:
        return coerce_logical_date(value)
    except (TypeError, ValueError):
        raise XComValueError(
            f"freeze_time={value!r} is not a datetime, an ISO 8601 string "
            "(e.g. '2026-01-01T06:00:00+00:00') or True (the logical date)"
        ) from None


def check_conf(conf: dict[str, Any] | None) -> None:
    if conf is None:
        return
    if not isinstance(conf, dict):
        raise XComTypeError(f"conf must be a dict of JSON values, not {type(conf).__name__}")
    try:
        json.dumps(conf)
    except (TypeError, ValueError) as exc:
        raise XComTypeError(
            f"conf must be JSON-serializable, as Airflow stores it in the dag_run table: {exc}"
        ) from None


def run_dag(
    dag: Any,
    *,
    logical_date: DateLike,
    conf: dict[str, Any] | None,
    dags_folder: Path,
    backend: type | None = None,
    backend_name: str = "db",
    freeze_at: datetime | None = None,
    resume: bool = False,
    partial: PartialRun | None = None,
    log: RunLog | None = None,
    silenced: Sequence[logging.Handler] = (),
) -> XComRun:
    """Run ``dag`` once with ``backend`` as its XCom backend; return the record of its traffic.

    ``partial``: run only some tasks, the others marked success, with XComs given in their place.
    ``log``: where Airflow's own log output goes while the run lasts (None: where Airflow sends it);
    ``silenced`` handlers get none of the run's log records meanwhile.
    """
    if not isinstance(dag, _airflow.dag_class()):
        raise XComTypeError(
            f"xcom.run() takes an Airflow DAG object, not {type(dag).__name__}; "
            "for a DAG file use xcom.run(xcom.load_dag('path/to/file.py'))"
        )
    date = coerce_logical_date(logical_date)
    check_conf(conf)
    recorder = Recorder(backend or _airflow.base_xcom_class())
    given = _airflow.given_rows(dag, partial.given) if partial is not None else []
    pattern = _airflow.mark_success_pattern(partial.marked_success) if partial is not None else None
    whole = _airflow.unexpandable_mapped_tasks(dag, partial.run, given) if partial is not None else ()
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            if log is not None:
                stack.enter_context(
                    _airflow.airflow_log_taken(log, silenced=silenced, format_exception=format_task_exception)
                )
            stack.enter_context(signal_handlers_restored())
            stack.enter_context(environ_restored())
            stack.enter_context(process_state_restored())
            stack.enter_context(recorder.installed())
            stack.enter_context(_airflow.dag_registered_for_test(dag, str(dags_folder)))
            if freeze_at is not None:
                stack.enter_context(_airflow.frozen_task_clock(freeze_at))
            if resume:
                stack.enter_context(_airflow.resuming_existing_dag_run())
            stack.enter_context(_airflow.given_xcoms_written(given, recorder.backend, recorder, marked_whole=whole))
            dag_run = _airflow.run_dag_test(dag, logical_date=date, conf=conf, mark_success_pattern=pattern)
    except XComError:
        raise  # a given XCom the backend cannot store: the test's mistake, said as such
    except Exception as exc:
        raise DagRunError(f"DAG {dag.dag_id!r} could not run: {type(exc).__name__}: {exc}") from exc
    recorder.read_back_values()
    if log is not None:  # a failed task instance's log section names its loop iteration
        log.iterations = _airflow.region_iterations(dag, dag_run.run_id)
    if recorder.internal_errors:
        # The run itself went as Airflow decided; only the record is incomplete. Say so loudly.
        raise RecordingError(
            f"pytest-xcom could not record DAG {dag.dag_id!r} completely (the tasks were not affected); "
            "this is a bug in pytest-xcom, please report it with this message:\n\n"
            + "\n\n".join(recorder.internal_errors)
        )
    _freeze_long_lived_objects()
    duration = time.perf_counter() - started
    run = _build_run(dag, dag_run, recorder, date, duration, backend_name)
    if partial is not None:
        run.marked_success = partial.marked_success
    return run


_frozen = False


def _freeze_long_lived_objects() -> None:
    """After the first run, move what Airflow built to load (modules, the execution API app, ORM
    mappers: hundreds of thousands of objects that live as long as the process) out of the
    garbage collector's reach, so later collections, and pytest's at exit, do not walk them again.
    """
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()  # garbage made so far is freed, not frozen
    gc.freeze()


def _build_run(
    dag: Any, dag_run: Any, recorder: Recorder, date: datetime, duration: float, backend_name: str
) -> XComRun:
    mapped = frozenset(task_id for task_id, task in dag.task_dict.items() if _airflow.is_mapped(task))
    loops = _airflow.loop_shapes(dag)
    states = task_states(dag.task_dict, mapped, loops, _airflow.task_instances(dag, dag_run.run_id))
    failures = {
        instance_label(task_id, map_index, iteration): text
        for (task_id, map_index, iteration), text in recorder.failures.items()
    }
    return XComRun(
        dag_id=dag.dag_id,
        run_id=dag_run.run_id,
        logical_date=date,
        state=_airflow.dag_run_state(dag_run),
        task_states=states,
        failures=failures,
        pushes=recorder.pushes,
        pulls=recorder.pulls,
        deletes=recorder.deletes,
        task_ids=tuple(dag.task_dict),
        mapped_task_ids=mapped,
        dependencies=tuple(
            (upstream, task_id)
            for task_id, task in dag.task_dict.items()
            for upstream in sorted(task.upstream_task_ids)
        ),
        backend=backend_name,
        duration=duration,
        airflow_xcoms=_airflow.airflow_pushed_xcoms(dag),
        trigger_xcoms=recorder.trigger_xcoms,
        airflow_version=_airflow.airflow_version(),
        loops={
            shape.group_id: {
                "gate": shape.gate_task_id,
                "terminal": shape.terminal_task_id,
                "max_iterations": shape.max_iterations,
                "until": shape.has_until,
                "tasks": list(shape.task_ids),
            }
            for shape in loops.values()
        },
        current_attempts=dict(recorder.attempts),
    )


def task_states(
    tasks: dict[str, Any],
    mapped: frozenset[str],
    loops: dict[str, _airflow.LoopShape],
    instances: list[tuple[str, int, int | None, str | None]],
) -> dict[str, Any]:
    """``XComRun.task_states``: a state per task; a list by map index for a mapped task; a list by
    loop iteration for a task inside a task loop (of lists by map index where it is mapped too)."""
    looped = {task_id for shape in loops.values() for task_id in shape.task_ids}
    states: dict[str, Any] = {task_id: ([] if task_id in mapped | looped else None) for task_id in tasks}
    by_position: dict[str, dict[tuple[int, int], str | None]] = {}
    for task_id, map_index, iteration, state in instances:
        if task_id not in states:
            continue
        if task_id in looped:
            if iteration is not None and (task_id not in mapped or map_index >= 0):
                # an unmapped task's map_index column holds its iteration there: -1 it is
                position = (iteration, map_index if task_id in mapped else -1)
                by_position.setdefault(task_id, {})[position] = state
        elif task_id in mapped:
            if map_index >= 0:
                by_position.setdefault(task_id, {})[(0, map_index)] = state
        else:
            states[task_id] = state
    for task_id, positions in by_position.items():
        if task_id not in looped:
            states[task_id] = [positions[p] for p in sorted(positions)]
            continue
        count = max(iteration for iteration, _ in positions) + 1
        if task_id in mapped:
            states[task_id] = [
                [positions[p] for p in sorted(p for p in positions if p[0] == i)] for i in range(count)
            ]
        else:
            states[task_id] = [positions.get((i, -1)) for i in range(count)]
    return states
