"""Run DAGs through plain ``dag.test()``, with no pytest and no pytest_xcom: the fidelity baseline.

Usage (cwd anywhere)::

    AIRFLOW_HOME=<tmp> AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///<tmp>/airflow.db \
    AIRFLOW__CORE__DAGS_FOLDER=<folder of the first DAG file> AIRFLOW__CORE__LOAD_EXAMPLES=False \
    python plain_runner.py SPEC.json [PROGRESS_DIR]

SPEC.json is a list of ``{"folder": ..., "module": ..., "dag_ids": [...]}``: ``folder`` is the DAG
bundle (``[core] dags_folder``) the file lives in and is put on ``sys.path``; ``module`` is the
DAG file's module name relative to it (``etl_orders``, ``airflow_pipelines.frozen_clock``). Each module
is imported as Airflow's DAG processor does (module-level DAG objects, and ``@dag`` functions
called at module level, which Airflow auto-registers), then every listed DAG runs once with
``dag.test(logical_date=2026-01-01T00:00:00+00:00, run_after=same)``.

The dags folder is switched per DAG file (``[core] dags_folder`` and ``airflow.settings.DAGS_FOLDER``,
which the dags-folder bundle reads when ``dag.test()`` syncs it), so one process serves several
folders. The XCom backend is whatever ``[core] xcom_backend`` says: one process per backend.

Prints ONE JSON document on stdout (everything Airflow and task code print goes to stderr)::

    {dag_id: {"state": ..., "task_instances": [[task_id, map_index, state], ...],
              "xcoms": [[task_id, map_index, key, value], ...],
              "attempt_xcoms": [[task_id, map_index, key, try_number, value], ...]}}

``value`` is the xcom row's ``value`` column as Airflow's ORM returns it, JSON-normalised. From
Airflow 3.4, a task inside a task loop has its position as ``"<map_index>@<iteration>"`` (the
iteration comes from the instance's region, never from the ``map_index`` column, which holds a loop
task's iteration there); ``xcoms`` are the rows of each instance's current attempt (what readers
see) and ``attempt_xcoms`` the rows of every attempt (each keeps its own). A DAG
whose ``dag.test()`` raises gets ``{"error": <traceback>}`` instead. With PROGRESS_DIR, each DAG's
entry is also written to ``PROGRESS_DIR/<dag_id>.json`` as soon as its run is done.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from datetime import datetime, timezone

LOGICAL_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
# The fidelity DAG files import their authoring names from tests/airflow_compat.py.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _normalise(value):
    return json.loads(json.dumps(value, default=repr))


def _import_dags(folder: str, module_name: str) -> dict:
    """Import a DAG file by module name; return its DAGs by dag_id, auto-registered ones included."""
    from airflow.sdk import DAG
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    DagContext.autoregistered_dags.clear()
    DagContext.current_autoregister_module_name = module_name
    try:
        module = importlib.import_module(module_name)
        if not os.path.abspath(module.__file__).startswith(os.path.abspath(folder) + os.sep):
            raise ImportError(f"{module_name!r} resolved to {module.__file__}, not to a file under {folder}")
        found = {obj.dag_id: obj for obj in vars(module).values() if isinstance(obj, DAG)}
        for dag, _mod in DagContext.autoregistered_dags:
            found.setdefault(dag.dag_id, dag)
    finally:
        DagContext.current_autoregister_module_name = None
        DagContext.autoregistered_dags.clear()
    return found


def _use_dags_folder(folder: str) -> None:
    from airflow import settings
    from airflow.configuration import conf

    conf.set("core", "dags_folder", folder)
    settings.DAGS_FOLDER = folder
    if folder not in sys.path:
        sys.path.insert(0, folder)


def read_run(session, dag, run_id: str) -> dict:
    """The run's state, task instances and xcom rows, JSON-normalised (the harness side uses it too)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    dag_id = dag.dag_id
    state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if hasattr(TaskInstance, "region_id"):  # Airflow 3.4: regions, and one row per attempt
        return {"state": _text(state), **_read_attempts(session, dag, run_id)}
    from airflow.models.xcom import XComModel

    tis = session.execute(
        select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
        )
    ).all()
    xcoms = session.execute(
        select(XComModel.task_id, XComModel.map_index, XComModel.key, XComModel.value).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id
        )
    ).all()
    return {
        "state": _text(state),
        "task_instances": sorted([t, m, _text(s)] for t, m, s in tis),
        "xcoms": sorted(([t, m, k, _normalise(v)] for t, m, k, v in xcoms), key=lambda r: r[:3]),
        "attempt_xcoms": [],
    }


def _read_attempts(session, dag, run_id: str) -> dict:
    """Airflow 3.4's rows: task instances by region, xcom_v2 rows by attempt."""
    from airflow.models.dynamic_region import DynamicRegion, loop_position
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModelV2
    from sqlalchemy import select

    loops = _enclosing_loops(dag)
    regions = DynamicRegion.load_for_run(dag.dag_id, run_id, session=session)

    def position(task_id, region_id, region_index):
        loop = loops.get(task_id)
        found = loop_position(regions, region_id, region_index, loop) if loop else None
        mapped = task_id in dag.task_dict and _is_mapped(dag.task_dict[task_id])
        map_index = region_index if (mapped or found is None) else -1
        return map_index if found is None else f"{map_index}@{found[1]}"

    rows = session.execute(
        select(
            TaskInstance.id, TaskInstance.task_id, TaskInstance.region_id, TaskInstance.region_index,
            TaskInstance.try_number, TaskInstance.state, TaskInstance.working_set,
        )
        .where(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run_id)
        .execution_options(include_all_attempts=True)
    ).all()
    attempts = {ti_id: (task_id, position(task_id, rid, rix), tries, bool(live)) for ti_id, task_id, rid, rix, tries, _s, live in rows}
    xcoms = session.execute(
        select(XComModelV2.task_instance_id, XComModelV2.key, XComModelV2.value).where(
            XComModelV2.task_instance_id.in_(list(attempts))
        )
    ).all()
    current, every = [], []
    for ti_id, key, value in xcoms:
        task_id, where, tries, live = attempts[ti_id]
        every.append([task_id, where, key, tries, _normalise(value)])
        if live:
            current.append([task_id, where, key, _normalise(value)])
    return {
        "task_instances": sorted(
            ([attempts[ti][0], attempts[ti][1], _text(s)] for ti, _t, _r, _x, _n, s, live in rows if live), key=repr
        ),
        "xcoms": sorted(current, key=lambda r: repr(r[:3])),
        "attempt_xcoms": sorted(every, key=lambda r: repr(r[:4])),
        # attempt id -> its place: object paths built per attempt name attempts by id (random per run)
        "attempt_labels": {str(ti): f"{task}:{where}#{tries}" for ti, (task, where, tries, _l) in attempts.items()},
    }


def _enclosing_loops(dag) -> dict:
    try:
        from airflow.sdk.definitions._internal.loop import LoopTaskGroup
    except ImportError:
        return {}
    return {
        task.task_id: group_id
        for group_id, group in dag.task_group.get_task_group_dict().items()
        if isinstance(group, LoopTaskGroup)
        for task in group
    }


def _is_mapped(task) -> bool:
    return bool(getattr(task, "is_mapped", False)) or task.get_closest_mapped_task_group() is not None


def _marked_success(dag, run_tasks) -> dict:
    """A partial run: every task but ``run_tasks`` marked success without running."""
    if run_tasks is None:
        return {}
    import re

    others = sorted(set(dag.task_dict) - set(run_tasks))
    return {"mark_success_pattern": "(?:" + "|".join(re.escape(task_id) for task_id in others) + ")"}


def _text(state):
    return None if state is None else str(getattr(state, "value", state))


def _write_atomically(path: str, data: dict) -> None:
    with open(path + ".partial", "w") as f:
        json.dump(data, f, sort_keys=True)
    os.replace(path + ".partial", path)


def main(spec_path: str, progress_dir: str | None = None) -> int:
    with open(spec_path) as f:
        spec = json.load(f)

    # Task code and Airflow print to fd 1 (BashOperator's subprocesses too): send all of it to
    # stderr, and keep the real stdout for the one JSON document.
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    started = time.perf_counter()
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.initdb()
    timings = {"initdb": round(time.perf_counter() - started, 2)}

    results: dict = {}
    for entry in spec:
        _use_dags_folder(entry["folder"])
        dags = _import_dags(entry["folder"], entry["module"])
        for dag_id in entry["dag_ids"]:
            t0 = time.perf_counter()
            try:
                marked = _marked_success(dags[dag_id], entry.get("run_tasks", {}).get(dag_id))
                dag_run = dags[dag_id].test(logical_date=LOGICAL_DATE, run_after=LOGICAL_DATE, **marked)
                with create_session() as session:
                    results[dag_id] = read_run(session, dags[dag_id], dag_run.run_id)
            except Exception:
                results[dag_id] = {"error": traceback.format_exc()}
            timings[dag_id] = round(time.perf_counter() - t0, 2)
            if progress_dir:  # lets a waiting test start before the whole batch is done
                _write_atomically(os.path.join(progress_dir, f"{dag_id}.json"), results[dag_id])

    assert "pytest_xcom" not in sys.modules, "the plain run must not import pytest_xcom"
    timings["cpu"] = round(time.process_time(), 2)
    print(f"plain_runner timings: {timings}", file=sys.stderr)
    with os.fdopen(real_stdout, "w") as out:
        json.dump(results, out, sort_keys=True)
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
