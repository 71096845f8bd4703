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
              "xcoms": [[task_id, map_index, key, value], ...]}}

``value`` is the xcom row's ``value`` column as Airflow's ORM returns it, JSON-normalised. A DAG
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


def read_run(session, dag_id: str, run_id: str) -> dict:
    """The run's state, task instances and xcom rows, JSON-normalised (the harness side uses it too)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
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
    }


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
                dag_run = dags[dag_id].test(logical_date=LOGICAL_DATE, run_after=LOGICAL_DATE)
                with create_session() as session:
                    results[dag_id] = read_run(session, dag_id, dag_run.run_id)
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
