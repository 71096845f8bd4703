"""The harness is a witness, not a participant: each DAG run through ``xcom.run`` must agree with
the same DAG run by plain ``dag.test()`` in a separate process (plain_runner.py).

Compared, with both sides shown side by side on a mismatch:
- the run state and every task instance's state, per (task_id, map_index), from the task_instance
  table and from ``run.state`` / ``run.task_states``;
- the xcom table's standing rows: (task_id, map_index, key) -> value as the DB holds it (for the
  frozen-clock case only the keys: its values are wall-clock times);
- for offloading backends, what they stored outside the DB (Redis keys, files);
- the harness's own record against the rows its run left (``stored`` of the push that stands,
  ``run.pushed_by(task_id, map_index=...).get(key)``) and against what the reader tasks received
  (``run.value(...)``): every fidelity DAG's reader returns a description of exactly what it was
  handed (tests/fidelity/dags/fidelity_common.py), which is also part of the compared rows.

Cases that disagree today are strict xfails naming issue #13: once a fix lands they XPASS, which
fails the suite, and the mark has to go.
"""

from __future__ import annotations

import importlib

import differential
import pytest
from differential import ALL_CASES, Case

from airflow_compat import AIRFLOW2

# raises=: only a disagreement (pytest.fail below) counts as the expected failure; a broken plain
# run, a harness that cannot start the DAG or a bug in this suite still fails the test.
PARAMS = [
    pytest.param(
        case,
        id=case.id,
        marks=[
            *([pytest.mark.xfail(strict=True, reason=case.xfail, raises=pytest.fail.Exception)] if case.xfail else []),
            *([] if case.available else [pytest.mark.skip(reason=f"needs Airflow {case.min_airflow}")]),
        ],
    )
    for case in ALL_CASES
]


def _load(case: Case, xcom):
    if case.load == "module":
        module = importlib.import_module(case.module)
        (dag,) = [obj for obj in vars(module).values() if getattr(obj, "dag_id", None) == case.dag_id]
        return dag
    return xcom.load_dag(case.file, dag_id=case.dag_id)


@pytest.mark.skipif(AIRFLOW2, reason="not on Airflow 2: plain_runner.py drives Airflow 3's dag.test() (airflow.sdk)")
@pytest.mark.parametrize("case", PARAMS)
def test_harness_agrees_with_plain_dag_test(case: Case, xcom, xcom_db, plain_runs, request, monkeypatch, tmp_path):
    plain, plain_store, plain_work = plain_runs.result(case)
    if "error" in plain:
        raise RuntimeError(f"plain dag.test() of {case.dag_id} raised:\n{plain['error']}")
    problems = differential.plain_sanity(case, plain)
    if problems:
        raise RuntimeError(f"the plain run of {case.dag_id} does not test what it should: {problems}")

    store = differential.GROUPS[case.group].get("store")
    xcom_dir = None
    plain_paths: dict[str, str] = {}
    harness_paths: dict[str, str] = {}
    if store == "redis":
        # Reachable only through the harness's routing of Redis clients to its fakeredis.
        monkeypatch.setenv("FIDELITY_REDIS_HOST", "127.0.0.1")
        monkeypatch.setenv("FIDELITY_REDIS_PORT", differential.UNREACHABLE_REDIS_PORT)
        redis_client = request.getfixturevalue("xcom_redis")
    elif store in differential.OBJECT_STORES:
        plain_server = differential.PLAIN_STORE_SERVERS[store]
        plain_paths = {
            **differential.object_store_replacements(store, plain_server.conn_id, differential.PLAIN_BUCKET),
            **plain.get("attempt_labels", {}),
        }
        harness_conn = differential.HARNESS_CONN_IDS[store]
        harness_paths = differential.object_store_replacements(store, harness_conn, differential.HARNESS_BUCKET)
    elif store == "files":
        xcom_dir = tmp_path / "xcom-files"
        monkeypatch.setenv("FIDELITY_XCOM_DIR", str(xcom_dir))
        # The suite's only normalisation: each side writes under its own directory and the file
        # backend hands out absolute paths, so both directories become one placeholder; paths that
        # name a task instance attempt by its id (store_value, Airflow 3.4) name it by its place.
        plain_paths = {str(plain_work / "xcom-files"): "<FIDELITY_XCOM_DIR>", **plain.get("attempt_labels", {})}
        harness_paths = {str(xcom_dir): "<FIDELITY_XCOM_DIR>"}

    dag = _load(case, xcom)
    options = {}
    if case.backend:
        options["backend"] = case.backend
    if case.freeze_time:
        options["freeze_time"] = case.freeze_time
    if case.run_tasks is not None:
        options["tasks"] = list(case.run_tasks)
    run = xcom.run(dag, **options)

    with xcom_db.session() as session:
        harness = differential.read_run(session, dag, run.run_id)
    harness_paths.update(harness.get("attempt_labels", {}) if store in ("files", *differential.OBJECT_STORES) else {})
    harness_store = {}
    if store == "redis":
        harness_store = differential.redis_contents(redis_client)
    elif store == "files":
        harness_store = differential.dump_files(xcom_dir)
    elif store in differential.OBJECT_STORES:
        bucket = request.getfixturevalue(f"xcom_{store}")
        harness_store = {key: bucket.read(key).decode(errors="replace") for key in bucket.keys()}

    norm = differential.normalise
    report = differential.compare_with_plain(case, norm(plain, plain_paths), norm(harness, harness_paths), run)
    report += differential.compare_stores(norm(plain_store, plain_paths), norm(harness_store, harness_paths))
    report += differential.compare_record(harness, run)
    report += differential.compare_received(case, harness, run, harness_store, xcom_dir)
    if case.freeze_time:
        report += _frozen_clock_seen(harness, case.freeze_time)
    if report:
        report += _failures(run)
        pytest.fail(
            f"{case.dag_id}: the harness run disagrees with plain dag.test() (plain run in {plain_work})\n"
            + "\n".join(report),
            pytrace=False,
        )


def _failures(run) -> list[str]:
    """The harness run's task failures (last line of each), to say why states differ."""
    if not run.failures:
        return []
    lines = ["task failures in the harness run (run.failures, last line):"]
    for where, text in sorted(run.failures.items()):
        last = [line for line in str(text).strip().splitlines() if line.strip()][-1:] or [""]
        lines.append(f"   {where}: {last[0][:300]}")
    return lines


def _frozen_clock_seen(harness: dict, moment: str) -> list[str]:
    """With freeze_time, task code must have seen the frozen wall clock."""
    rows = {(t, m, k): v for t, m, k, v in harness["xcoms"]}
    stamped = rows.get(("stamp", -1, "return_value"))
    seen = stamped.get("iso") if isinstance(stamped, dict) else stamped
    return differential.side_by_side(
        f"wall clock seen by task code under xcom.run(dag, freeze_time={moment!r})",
        {"stamp: datetime.now(timezone.utc)": moment},
        {"stamp: datetime.now(timezone.utc)": seen},
        labels=("frozen at", "task code saw (harness run)"),
    )


@pytest.mark.skipif(AIRFLOW2, reason="not on Airflow 2: tests/dag_files/broken_backends.py imports Airflow 3's BaseXCom")
def test_every_project_dag_is_covered():
    """Every DAG of example_dags/*.py and tests/dag_files/*.py has a case (or a stated exclusion)."""
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow >= 3.2
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 3.0, 3.1

    covered = {(case.file, case.dag_id) for case in differential.PROJECT_CASES}
    found = set()
    for folder in (differential.EXAMPLE_DAGS, differential.TEST_DAG_FILES):
        for path in sorted(folder.glob("*.py")):
            bag = DagBag(dag_folder=str(path), safe_mode=False)
            assert not bag.import_errors, bag.import_errors
            ids = set(bag.dags)
            if path in differential.EXCLUDED_PROJECT_FILES:
                assert not ids, f"{path.name} is excluded as DAG-less but defines {sorted(ids)}"
            found |= {(path, dag_id) for dag_id in ids}
    assert found == covered, (
        f"not covered: {sorted(found - covered)}; covered but gone: {sorted(covered - found)}"
    )
