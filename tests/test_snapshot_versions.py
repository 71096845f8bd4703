"""Snapshots across Airflow versions and manifest formats: what ``assert_match`` compares, and when.

- The Airflow version stamp is never compared.
- Storage facts (sizes, offloading, serialized hash) are compared when the snapshot was written on
  the same Airflow release as the run (``storage=None``), always with ``storage=True``, never with
  ``storage=False``.
- A manifest v1 entry (older pytest-xcom) compares on what v1 records; the update flag rewrites it.
"""

import copy
import json

import pytest

FLOW = """
from airflow_compat import dag, task

@dag(schedule=None)
def flow():
    @task
    def extract(ti=None):
        ti.xcom_push(key="token", value="t-1")
        return ["a", "b"]

    @task
    def load(rows, ti=None):
        return {"rows": len(rows), "token": ti.xcom_pull(task_ids="extract", key="token")}

    load(extract())

flow_dag = flow()
"""

TESTS = """
from flow_dag import flow_dag

def test_v1(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))

def test_v1_changed(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))

def test_other_airflow_storage(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))

def test_other_airflow_storage_asked(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag), storage=True)

def test_same_airflow_storage(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))

def test_same_airflow_storage_not_asked(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag), storage=False)

def test_other_airflow_read(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))

def test_newer(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))
"""

UPDATE = "--xcom-snapshot-update"
EXTRACT = ("extract", "-1", "return_value")


def _file(pytester, test):
    return pytester.path / "__xcom_snapshots__" / "test_user" / f"{test}.json"


def _edit(pytester, test, change):
    path = _file(pytester, test)
    entries = json.loads(path.read_text())
    entries["1"] = change(entries["1"])
    path.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")


def _xcom(manifest, where=EXTRACT):
    task_id, index, key = where
    return manifest["xcoms"][task_id][index][key]


def _as_v1(manifest):
    v1 = {k: copy.deepcopy(v) for k, v in manifest.items() if k not in ("written_by", "pulls", "expansions")}
    v1["manifest_version"] = 1
    for by_index in v1["xcoms"].values():
        for by_key in by_index.values():
            for key, fields in list(by_key.items()):
                by_key[key] = {k: fields[k] for k in ("type", "consumers", "size", "stored_size", "offloaded", "sha256")}
    return v1


def _v1_changed(manifest):
    v1 = _as_v1(manifest)
    _xcom(v1)["sha256"] = "0" * 64
    return v1


def _other_airflow(manifest):
    manifest["written_by"]["airflow"] = "2.11.0"
    return manifest


def _grown(manifest):
    fields = _xcom(manifest)
    fields["size"] += 5
    fields["stored_size"] += 5
    return manifest


def _read_missed(manifest):
    manifest = _other_airflow(manifest)
    for read in manifest["pulls"]["load"]:
        if read["key"] == "token":
            read["found"] = False
    return manifest


EDITS = {
    "test_v1": _as_v1,
    "test_v1_changed": _v1_changed,
    "test_other_airflow_storage": lambda m: _grown(_other_airflow(m)),
    "test_other_airflow_storage_asked": lambda m: _grown(_other_airflow(m)),
    "test_same_airflow_storage": _grown,
    "test_same_airflow_storage_not_asked": _grown,
    "test_other_airflow_read": _read_missed,
    "test_newer": lambda m: {**m, "manifest_version": 7},
}


@pytest.mark.bad_input("snapshot-from-newer-pytest-xcom")
def test_what_assert_match_compares_across_versions_and_formats(user_tests, pytester):
    pytester.makepyfile(flow_dag=FLOW)
    user_tests(TESTS, UPDATE).assert_outcomes(passed=8)
    airflow = json.loads(_file(pytester, "test_v1").read_text())["1"]["written_by"]["airflow"]
    for test, change in EDITS.items():
        _edit(pytester, test, change)

    result = user_tests(TESTS)
    outcomes = {name: result.stdout.str().count(f"FAILED test_user.py::{name} ") for name in EDITS}
    failing = {name for name, count in outcomes.items() if count}
    assert failing == {
        "test_v1_changed",
        "test_other_airflow_storage_asked",
        "test_same_airflow_storage",
        "test_other_airflow_read",
        "test_newer",
    }, f"failed: {sorted(failing)}\n{result.stdout.str()}"
    snapshots = "__xcom_snapshots__/test_user"
    result.stdout.fnmatch_lines(
        [
            f"E       AssertionError: XCom snapshot '1' does not match {snapshots}/test_v1_changed.json:",
            "E         XCom extract 'return_value': value changed (the hash of its serialized form differs; "
            "a v1 snapshot keeps no value)",
            "E       Note: the snapshot is manifest v1 (an older pytest-xcom): compared on what v1 records "
            "(no values, no pulls); --xcom-snapshot-update rewrites it as v2.",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"E       AssertionError: XCom snapshot '1' does not match {snapshots}/test_other_airflow_storage_asked.json:",
            "E         storage only: XCom extract 'return_value': size 15 -> 10, stored_size 15 -> 10",
            "E       Run pytest with --xcom-snapshot-update to accept this run as the new snapshot.",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"E       AssertionError: XCom snapshot '1' does not match {snapshots}/test_same_airflow_storage.json:",
            "E         storage only: XCom extract 'return_value': size 15 -> 10, stored_size 15 -> 10",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"E       AssertionError: XCom snapshot '1' does not match {snapshots}/test_other_airflow_read.json:",
            "E         load reads extract 'token' (xcom_pull): found nothing -> found a value",
            f"E       Note: the snapshot was written on Airflow 2.11.0, this run is on Airflow {airflow}: storage "
            "facts (sizes, offloading, serialized hash, backend) are not compared; assert_match(run, storage=True) "
            "compares them.",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"E       AssertionError: cannot compare with XCom snapshot: entry '1' of {snapshots}/test_newer.json is "
            "manifest v7, written by a newer pytest-xcom: upgrade pytest-xcom to read it; run pytest with "
            "--xcom-snapshot-update to rewrite it",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "8 XCom snapshot(s): 3 passed, 0 written, 0 updated, 5 failed",
            "1 XCom snapshot(s) written on another Airflow release passed without their storage facts compared "
            "(sizes, offloading); run pytest with --xcom-snapshot-update to rewrite them:",
            f"  {snapshots}/test_other_airflow_storage.json :: '1'",
            "1 XCom snapshot(s) in the v1 format passed on what v1 records (no values, no pulls); run pytest with "
            "--xcom-snapshot-update to rewrite them:",
            f"  {snapshots}/test_v1.json :: '1'",
        ]
    )

    # The update flag rewrites every entry that is not exactly this run: matching ones get the new stamp.
    result = user_tests(TESTS, UPDATE)
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["8 XCom snapshot(s): 0 passed, 0 written, 8 updated, 0 failed"])
    for test in EDITS:
        entry = json.loads(_file(pytester, test).read_text())["1"]
        assert (entry["manifest_version"], entry["written_by"]["airflow"]) == (2, airflow), (
            f"{test}: --xcom-snapshot-update must rewrite it as v2 stamped with this Airflow; it holds {entry}"
        )
    result = user_tests(TESTS)
    result.stdout.fnmatch_lines(["8 XCom snapshot(s): 8 passed, 0 written, 0 updated, 0 failed"])
    assert "passed without" not in result.stdout.str() and "v1 format" not in result.stdout.str(), (
        "after the update every entry is v2 from this Airflow: the summary must not call any comparison partial"
    )


def test_storage_must_be_a_bool_or_none(user_tests, pytester):
    pytester.makepyfile(flow_dag=FLOW)
    result = user_tests(
        """
        from flow_dag import flow_dag

        def test_flow(xcom, xcom_snapshot):
            xcom_snapshot.assert_match(xcom.run(flow_dag), storage="yes")
        """,
        UPDATE,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E   *TypeError: assert_match(storage=...) must be True, False or None, not 'yes'"])


def _example_manifest():
    from pathlib import Path

    path = (Path(__file__).parents[1] / "example_dags" / "tests" / "__xcom_snapshots__" / "test_token_handoff"
            / "test_token_handoff_traffic.json")
    return json.loads(path.read_text())["1"]


def test_a_v1_entry_keeps_its_value_fingerprint_even_without_storage(tmp_path):
    """XComSnapshot outside pytest, on manifests as dicts: storage=False must not blind a v1 comparison."""
    from pytest_xcom.snapshots.assertion import XComSnapshot
    from pytest_xcom.snapshots.files import dumps

    current = _example_manifest()
    v1 = _as_v1(current)
    path = tmp_path / "snap.json"
    changed = _as_v1(current)
    changed["xcoms"]["call_api"]["-1"]["return_value"]["sha256"] = "0" * 64
    path.write_text(dumps({"same": v1, "changed": changed}))

    snapshot = XComSnapshot(path)
    snapshot.assert_match(current, name="same", storage=False)
    with pytest.raises(AssertionError, match=r"XCom call_api 'return_value': value changed \(the hash of its serialized"):
        snapshot.assert_match(current, name="changed", storage=False)
    assert snapshot.counts == {"passed": 1, "written": 0, "updated": 0, "failed": 1}
    assert snapshot.partial == [("same", "v1")], "a v1 entry that passed must be reported as a partial comparison"
