"""pytest_xcom.syrupy.XComManifestExtension: run manifests in syrupy's snapshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("syrupy")

SNAPSHOT_TEST = """
from airflow_compat import dag, task
from pytest_xcom.syrupy import XComManifestExtension

ROWS = {rows!r}

@dag(schedule=None)
def flow():
    @task
    def extract():
        return ROWS

    @task
    def load(rows):
        return len(rows)

    load(extract())

def test_flow(xcom, snapshot):
    run = xcom.run(flow())
    assert run == snapshot(extension_class=XComManifestExtension)
"""
SNAPSHOT_FILE = ("__snapshots__", "test_user", "test_flow.json")


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch):
    """syrupy takes any process with PYTEST_XDIST_WORKER set for a worker, and leaves its summary
    ("1 snapshot generated") to the controller: the user's session here is a session of its own."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def test_writes_compares_and_explains_a_change(user_tests, pytester):
    written = user_tests(SNAPSHOT_TEST.format(rows=["a", "b"]), "--snapshot-update")
    written.assert_outcomes(passed=1)
    written.stdout.fnmatch_lines(["*1 snapshot generated*"])
    path = pytester.path.joinpath(*SNAPSHOT_FILE)
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["dag_id"] == "flow" and stored["manifest_version"] == 2
    assert stored["xcoms"]["extract"]["-1"]["return_value"]["value"] == '["a", "b"]'
    assert stored["pulls"]["load"] == [
        {"found": True, "key": "return_value", "source": "extract", "via": "argument"}
    ]

    same = user_tests(SNAPSHOT_TEST.format(rows=["a", "b"]))
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines(["*1 snapshot passed*"])

    changed = user_tests(SNAPSHOT_TEST.format(rows=["a", "b", "c"]))
    changed.assert_outcomes(failed=1)
    print(changed.stdout.str())
    changed.stdout.fnmatch_lines(
        [
            "*XCom manifest changes (snapshot -> this run):",
            "*  XCom extract 'return_value': value [[]\"a\", \"b\"] -> [[]\"a\", \"b\", \"c\"]",
            "*  XCom load 'return_value': value 2 -> 3",
            "*Run pytest with --snapshot-update to accept this run as the new snapshot.",
            "*1 snapshot failed*",
        ]
    )
    assert json.loads(path.read_text(encoding="utf-8")) == stored, "a failing comparison must not write"

    updated = user_tests(SNAPSHOT_TEST.format(rows=["a", "b", "c"]), "--snapshot-update")
    updated.assert_outcomes(passed=1)
    updated.stdout.fnmatch_lines(["*1 snapshot updated*"])
    assert json.loads(path.read_text(encoding="utf-8"))["xcoms"]["load"]["-1"]["return_value"]["value"] == "3"


def test_storage_facts_from_another_airflow_release_are_not_compared(user_tests, pytester):
    user_tests(SNAPSHOT_TEST.format(rows=["a"]), "--snapshot-update").assert_outcomes(passed=1)
    path = pytester.path.joinpath(*SNAPSHOT_FILE)
    stored = json.loads(path.read_text(encoding="utf-8"))
    stored["written_by"] = {"airflow": "2.11.0", "pytest_xcom": "0.0.1"}
    stored["xcoms"]["extract"]["-1"]["return_value"]["size"] = 999  # Airflow 2 serialized it differently
    path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    user_tests(SNAPSHOT_TEST.format(rows=["a"])).assert_outcomes(passed=1)

    stored["written_by"]["airflow"] = stored_airflow = json.loads(
        pytester.path.joinpath(*SNAPSHOT_FILE).read_text(encoding="utf-8")
    )["written_by"]["airflow"]
    stored["written_by"]["airflow"] = _installed_airflow()
    path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    same_release = user_tests(SNAPSHOT_TEST.format(rows=["a"]))
    same_release.assert_outcomes(failed=1)
    same_release.stdout.fnmatch_lines(["*storage only: XCom extract 'return_value': size 999 -> *"])
    assert stored_airflow == "2.11.0"


def _installed_airflow() -> str:
    from importlib import metadata

    return metadata.version("apache-airflow")


def test_something_that_is_not_a_run_is_a_clear_error(user_tests):
    result = user_tests(
        """
        from pytest_xcom.syrupy import XComManifestExtension

        def test_value(snapshot):
            assert {"a": 1} == snapshot(extension_class=XComManifestExtension)
        """,
        "--snapshot-update",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*XComManifestExtension snapshots a DAG run: compare the XComRun xcom.run() returns*not dict*"]
    )


def test_importing_without_syrupy_says_what_to_install(tmp_path):
    # A module named syrupy that cannot be imported stands in for syrupy not being installed.
    (tmp_path / "syrupy").mkdir()
    (tmp_path / "syrupy" / "__init__.py").write_text("raise ImportError('No module named syrupy')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", "import pytest_xcom.syrupy"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode != 0
    assert 'ImportError: pytest_xcom.syrupy needs syrupy, which is not installed: pip install "pytest-xcom[syrupy]"' in (
        done.stderr
    ), done.stderr


def test_a_fixture_with_the_extension_as_default_explains_a_change_too(user_tests):
    source = SNAPSHOT_TEST.replace(
        "def test_flow(xcom, snapshot):\n    run = xcom.run(flow())\n    assert run == snapshot(extension_class=XComManifestExtension)",
        "import pytest\n\n@pytest.fixture\ndef snapshot(snapshot):\n    return snapshot.use_extension(XComManifestExtension)\n\n"
        "def test_flow(xcom, snapshot):\n    assert snapshot == xcom.run(flow())",
    )
    assert "use_extension" in source
    user_tests(source.format(rows=[1]), "--snapshot-update").assert_outcomes(passed=1)
    changed = user_tests(source.format(rows=[1, 2]))
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(["*XCom manifest changes (snapshot -> this run):", "*XCom load 'return_value': value 1 -> 2"])
    # Where CI is set, pytest repeats the whole failure message in its short summary; the failure
    # section itself must still say the change list once, not once per layer that explains it.
    failure_section = changed.stdout.str().split("short test summary info")[0]
    assert failure_section.count("XCom manifest changes") == 1, "the change list is said once"
