"""Whole-repository mode (--xcom-dags): every DAG file of a folder checked and snapshotted, no test code."""

from __future__ import annotations

import json
import os
import re
import textwrap
import zipfile
from pathlib import Path

import pytest
from pytest_xcom.cli import main

from airflow_compat import requires_airflow3

TESTS_DIR = Path(__file__).parent
UPDATE = "--xcom-snapshot-update"

TASKFLOW = """
from airflow_compat import dag, task

@dag(schedule=None)
def taskflow_flow():
    @task
    def extract():
        return {"rows": 3}

    @task
    def load(data):
        return data["rows"] * 2

    load(extract())

taskflow_flow()
"""

# A classic-operator DAG that imports a neighbour module, as in a DAG bundle.
CLASSIC = """
from airflow_compat import DAG
from airflow.providers.standard.operators.python import PythonOperator
from helpers import double

def push(ti):
    ti.xcom_push(key="numbers", value=[1, 2, 3])

def pull(ti):
    return sum(double(n) for n in ti.xcom_pull(task_ids="push", key="numbers"))

with DAG("classic_flow", schedule=None) as dag:
    PythonOperator(task_id="push", python_callable=push) >> PythonOperator(task_id="pull", python_callable=pull)
"""

HELPER = "def double(n):\n    return n * 2\n"  # no DAG here: not a word of the DAG processor's heuristic

NEEDS_CONF = """
from airflow_compat import dag, task

@dag(schedule=None)
def needs_conf():
    @task
    def region(dag_run=None):
        return dag_run.conf["region"]

    region()

needs_conf()
"""

EXTERNAL = """
from airflow_compat import dag, task

@dag(schedule=None, tags=["external"])
def talks_to_prod():
    @task
    def call():
        raise RuntimeError("talks_to_prod was run: it would call production")

    call()

talks_to_prod()
"""

BROKEN = "from airflow_compat import dag\n\nx = 1\ndef oops(:\n    pass\n"
IGNORED = '# an airflow dag file that is ignored\nraise RuntimeError("ignored_dag.py was imported")\n'

HOOK = """
def pytest_xcom_dag_run(dag, path):
    if dag.dag_id == "needs_conf":
        return {"conf": {"region": "eu"}}
    if "external" in dag.tags:
        return None
    return {}
"""


def _repository(pytester: pytest.Pytester, files: dict[str, str] | None = None, hook: str = HOOK) -> Path:
    """The issue's folder: the good, the conf-needing, the excluded, the broken, the ignored, the helper."""
    dags = pytester.mkdir("dags")
    default = {
        "taskflow_dag.py": TASKFLOW,
        "classic_dag.py": CLASSIC,
        "helpers.py": HELPER,
        "conf_dag.py": NEEDS_CONF,
        "external_dag.py": EXTERNAL,
        "broken_dag.py": BROKEN,
        "ignored_dag.py": IGNORED,
        ".airflowignore": "ignored_dag.py\n",
    }
    for name, source in (default if files is None else files).items():
        (dags / name).write_text(textwrap.dedent(source))
    if hook:
        pytester.makeconftest(hook)
    return dags


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str, subprocess: bool = False):
    monkeypatch.setenv("COLUMNS", "250")  # short summary lines whole
    if subprocess:
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])))
        return pytester.runpytest_subprocess("-p", "loopback_guard", "-p", "no:randomly", "-p", "no:cacheprovider", *args)
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def _snapshot(pytester: pytest.Pytester, file: str, dag_id: str) -> Path:
    return pytester.path / "__xcom_snapshots__" / "dags" / "dags" / file / f"{dag_id}.json"


def test_a_whole_folder_is_checked_and_snapshotted_with_no_test_code(pytester, monkeypatch):
    _repository(pytester)
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", "-v", UPDATE)
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-xcom: 5 DAG file(s) in dags (Airflow's rules), 1 with import errors; 4 DAG(s), 3 selected to run",
            "pytest-xcom: import only (pytest_xcom_dag_run returned None): dags/external_dag.py::talks_to_prod",
            "dags/broken_dag.py::import FAILED*",
            "dags/classic_dag.py::import PASSED*",
            "dags/classic_dag.py::classic_flow PASSED*",
            "dags/conf_dag.py::import PASSED*",
            "dags/conf_dag.py::needs_conf PASSED*",
            "dags/external_dag.py::import PASSED*",
            "dags/taskflow_dag.py::import PASSED*",
            "dags/taskflow_dag.py::taskflow_flow PASSED*",
            "*__ import of broken_dag.py __*",
            "dags/broken_dag.py, line 4: SyntaxError: invalid syntax*",
            "dags/broken_dag.py failed to import; Airflow records:",
            "Traceback (most recent call last):",
            "*dags/broken_dag.py*line 4*",
            "SyntaxError: invalid syntax",
            "*= pytest-xcom snapshots =*",
            "3 XCom snapshot(s): 0 passed, 3 written, 0 updated, 0 failed",
            "*= pytest-xcom =*",
            "3 DAG run(s) in 3 test(s):*",
        ]
    )
    # the excluded DAG never ran; the ignored file and the helper were never collected
    assert "talks_to_prod was run" not in result.stdout.str()
    result.stdout.no_fnmatch_line("*external_dag.py::talks_to_prod PASSED*")
    result.stdout.no_fnmatch_line("*ignored_dag.py*")
    result.stdout.no_fnmatch_line("*helpers.py*")
    for file, dag_id in (("taskflow_dag.py", "taskflow_flow"), ("classic_dag.py", "classic_flow"),
                         ("conf_dag.py", "needs_conf")):  # fmt: skip
        manifest = json.loads(_snapshot(pytester, file, dag_id).read_text())["1"]
        assert manifest["dag_id"] == dag_id, manifest
    assert not _snapshot(pytester, "external_dag.py", "talks_to_prod").exists()
    assert json.loads(_snapshot(pytester, "conf_dag.py", "needs_conf").read_text())["1"]["xcoms"]["region"]["-1"][
        "return_value"]["value"] == '"eu"'  # fmt: skip

    # A later change to what one DAG pushes fails that DAG's item, and only it.
    taskflow = pytester.path / "dags" / "taskflow_dag.py"
    taskflow.write_text(taskflow.read_text().replace('{"rows": 3}', '{"rows": 4}'))
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags")
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*__ DAG taskflow_flow of taskflow_dag.py __*",
            "XCom snapshot '1' does not match __xcom_snapshots__/dags/dags/taskflow_dag.py/taskflow_flow.json:",
            """  XCom extract 'return_value': value {"rows": 3} -> {"rows": 4}""",
            "  XCom load 'return_value': value 6 -> 8",
            "FAILED dags/broken_dag.py::import - dags/broken_dag.py, line 4: SyntaxError*",
            "FAILED dags/taskflow_dag.py::taskflow_flow - Failed: XCom snapshot '1' does not match*",
        ]
    )

    # -k picks DAGs by id, as any test
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", "-k", "needs_conf")
    result.assert_outcomes(passed=1, deselected=7)


def test_xdist_keeps_each_file_on_one_worker_and_every_item_runs_once(pytester, monkeypatch):
    _repository(pytester)
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", "-n", "2", "--dist", "loadfile", UPDATE, "-v",
                  subprocess=True)  # fmt: skip
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(["*3 XCom snapshot(s): 0 passed, 3 written, 0 updated, 0 failed"])
    workers = {}
    for line in result.outlines:  # "[gw0] [ 11%] PASSED dags/conf_dag.py::import"
        if line.startswith("[gw") and "dags/" in line:
            workers.setdefault(line.split("dags/")[1].split("::")[0], set()).add(line.split("]")[0])
    assert set(workers) == {"broken_dag.py", "classic_dag.py", "conf_dag.py", "external_dag.py", "taskflow_dag.py"}
    assert all(len(found) == 1 for found in workers.values()), workers
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", "-n", "2", subprocess=True)
    result.assert_outcomes(passed=7, failed=1)


def test_airflow_reports_duplicates_cycles_exits_timeouts_and_interrupts(pytester, monkeypatch):
    cyclic = """
    from airflow_compat import DAG
    from airflow.providers.standard.operators.empty import EmptyOperator

    with DAG("cyclic", schedule=None) as dag:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        a >> b >> a
    """
    _repository(
        pytester,
        {
            "a_first.py": TASKFLOW,
            "b_again.py": TASKFLOW,  # the same dag_id, later in Airflow's listing order
            "cyclic.py": cyclic,
            "exits.py": "import sys\nfrom airflow_compat import dag\nsys.exit(3)\n",
            "interrupts.py": "from airflow_compat import dag\nraise KeyboardInterrupt\n",
            "slow.py": "import time\nfrom airflow_compat import dag\ntime.sleep(60)\n",
        },
        hook="",
    )
    # long enough for the other files on a busy machine, far shorter than slow.py's sleep
    monkeypatch.setenv("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "5")
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", UPDATE)
    result.assert_outcomes(passed=2, failed=5)
    result.stdout.fnmatch_lines_random(
        [
            "FAILED dags/b_again.py::import - dags/b_again.py: AirflowDagDuplicatedIdException: Ignoring DAG "
            "taskflow_flow from */dags/b_again.py*",
            "AirflowDagDuplicatedIdException: Ignoring DAG taskflow_flow from */dags/b_again.py - also found in "
            "*/dags/a_first.py",
            "FAILED dags/cyclic.py::import - dags/cyclic.py: AirflowDagCycleException: Cycle detected in *: cyclic*",
            "FAILED dags/exits.py::import - dags/exits.py, line 3: SystemExit: 3",
            "FAILED dags/interrupts.py::import - dags/interrupts.py, line 2: KeyboardInterrupt",
            "FAILED dags/slow.py::import - dags/slow.py, line 3: AirflowTaskTimeout: DagBag import timeout for */dags/slow.py*",
            "*AirflowTaskTimeout: DagBag import timeout for */dags/slow.py after 5.0s.",
            "dags/exits.py called sys.exit(3) while it was imported; Airflow records:",
            "dags/interrupts.py raised KeyboardInterrupt while it was imported (not a Ctrl-C of yours); Airflow records:",
            "dags/slow.py took longer than dagbag_import_timeout (5 s) to import; raise it with [core] "
            "dagbag_import_timeout (AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT), or import less at the top level. Airflow records:",
        ]
    )
    result.stdout.fnmatch_lines(["*passed*"])  # the session went on after every one of them
    assert _snapshot(pytester, "a_first.py", "taskflow_flow").is_file()
    assert not _snapshot(pytester, "b_again.py", "taskflow_flow").exists()


def test_the_hook_sets_expectations_marks_and_refuses_unknown_keys(pytester, monkeypatch):
    failing = """
    from airflow_compat import dag, task

    @dag(schedule=None)
    def fails_on_purpose():
        @task
        def boom():
            raise ValueError("expected failure")

        boom()

    fails_on_purpose()
    """
    _repository(pytester, {"taskflow_dag.py": TASKFLOW, "conf_dag.py": NEEDS_CONF, "failing.py": failing},
                hook="""
        import pytest

        def pytest_xcom_dag_run(dag, path):
            if dag.dag_id == "needs_conf":
                return {"confs": {"region": "eu"}}
            if dag.dag_id == "fails_on_purpose":
                return {"expect": "failed"}
            return {"marks": [pytest.mark.skip(reason="needs the warehouse")]}
        """)  # fmt: skip
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", "-rs", UPDATE)
    result.assert_outcomes(passed=4, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*__ DAG needs_conf of conf_dag.py __*",
            "pytest_xcom_dag_run(dag, path) returned for DAG 'needs_conf' (dags/conf_dag.py) the unknown key(s) "
            "'confs'; it accepts xcom.run()'s keyword arguments (backend, backend_options, conf, freeze_time, "
            "logical_date, tasks, upstream), expect (success or failed) and marks (a list of pytest marks)",
            "SKIPPED [1] dags/taskflow_dag.py:1: needs the warehouse",
        ]
    )


def test_the_suite_wide_policy_applies_to_every_dag(pytester, monkeypatch):
    _repository(pytester, {"taskflow_dag.py": TASKFLOW, "classic_dag.py": CLASSIC, "helpers.py": HELPER}, hook="")
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", "--xcom-max-size", "10", UPDATE)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*__ DAG taskflow_flow of taskflow_dag.py __*",
            "XCom policy (max_size='10') violated:",
            "*extract key 'return_value'*11 B*",
        ]
    )


def test_zip_archives_and_the_regexp_ignore_syntax(pytester, monkeypatch):
    dags = _repository(pytester, {"ignored_dag.py": IGNORED, ".airflowignore": "ignored_.*\n"}, hook="")
    with zipfile.ZipFile(dags / "bundle.zip", "w") as archive:
        archive.writestr("zipped_dag.py", textwrap.dedent(TASKFLOW).replace("taskflow_flow", "zipped_flow"))
        archive.writestr("zip_helper.py", HELPER)
    monkeypatch.setenv("AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX", "regexp")
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", UPDATE, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["dags/bundle.zip::import PASSED*", "dags/bundle.zip::zipped_flow PASSED*"])
    result.stdout.no_fnmatch_line("*ignored_dag*")
    assert _snapshot(pytester, "bundle.zip", "zipped_flow").is_file()


def test_unused_dag_snapshots_are_deleted_only_on_evidence(pytester, monkeypatch):
    two = TASKFLOW + "\n" + textwrap.dedent(TASKFLOW).replace("taskflow_flow", "second_flow")
    gone_source = textwrap.dedent(TASKFLOW).replace("taskflow_flow", "gone_flow")
    dags = _repository(pytester, {"two.py": two, "gone.py": gone_source}, hook="")
    _run(pytester, monkeypatch, "--xcom-dags", "dags", UPDATE).assert_outcomes(passed=5)
    second, gone = _snapshot(pytester, "two.py", "second_flow"), _snapshot(pytester, "gone.py", "gone_flow")
    assert second.is_file() and gone.is_file()
    (dags / "two.py").write_text(textwrap.dedent(TASKFLOW))
    (dags / "gone.py").unlink()

    # deselected DAGs keep their files: -k, or one file named on the command line
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", UPDATE, "-k", "import")
    result.stdout.fnmatch_lines(["Unused XCom snapshot files not looked for: 1 test(s) deselected*; none deleted."])
    _run(pytester, monkeypatch, "--xcom-dags", "dags", "dags/two.py::import", UPDATE)
    assert second.is_file() and gone.is_file()

    result = _run(pytester, monkeypatch, "--xcom-dags", "dags")
    result.stdout.fnmatch_lines(["2 unused XCom snapshot(s) (their tests are gone or no longer assert them);*"])
    assert second.is_file() and gone.is_file()
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", UPDATE)
    result.stdout.fnmatch_lines(["2 unused XCom snapshot(s) deleted:", "  __xcom_snapshots__/dags/dags/gone.py/gone_flow.json",
                                 "  __xcom_snapshots__/dags/dags/two.py/second_flow.json"])  # fmt: skip
    assert not second.exists() and not gone.exists() and _snapshot(pytester, "two.py", "taskflow_flow").is_file()


VERBOSE_RESULT = re.compile(r"^(dags/\S+::\S+) (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")


def test_pytest_split_groups_run_every_item_once_and_keep_each_others_snapshots(pytester, monkeypatch):
    pytest.importorskip("pytest_split")
    _repository(pytester)
    ran: list[str] = []
    for group in ("1", "2"):
        result = _run(pytester, monkeypatch, "--xcom-dags", "dags", "--splits", "2", "--group", group, "-v", UPDATE)
        # the -v result lines only (the warnings summary lists item ids too: Airflow 2 warns)
        ran += [m.group(1) for m in map(VERBOSE_RESULT.match, result.outlines) if m]
        # a shard never judges (nor deletes) the snapshots of DAGs it did not run
        result.stdout.no_fnmatch_line("*unused XCom snapshot(s) deleted*")
    assert sorted(ran) == sorted(set(ran)), ran
    assert len(ran) == 8, ran
    for file, dag_id in (("taskflow_dag.py", "taskflow_flow"), ("classic_dag.py", "classic_flow"),
                         ("conf_dag.py", "needs_conf")):  # fmt: skip
        assert _snapshot(pytester, file, dag_id).is_file(), (file, ran)


@requires_airflow3("the diff's example compares two Airflow 3 snapshot sets")
def test_the_cross_version_diff_reads_dag_snapshots(pytester, monkeypatch, capsys):
    _repository(pytester, {"taskflow_dag.py": TASKFLOW}, hook="")
    _run(pytester, monkeypatch, "--xcom-dags", "dags", UPDATE).assert_outcomes(passed=2)
    old = pytester.path / "old"
    old.mkdir()
    (old / "taskflow_flow.json").write_text(_snapshot(pytester, "taskflow_dag.py", "taskflow_flow").read_text())
    taskflow = pytester.path / "dags" / "taskflow_dag.py"
    taskflow.write_text(taskflow.read_text().replace('{"rows": 3}', '{"rows": 4}'))
    _run(pytester, monkeypatch, "--xcom-dags", "dags", UPDATE).assert_outcomes(passed=2)
    code = main(["diff", str(old / "taskflow_flow.json"), str(_snapshot(pytester, "taskflow_dag.py", "taskflow_flow"))])
    out = capsys.readouterr().out
    assert code == 1, out
    assert """value {"rows": 3} -> {"rows": 4}""" in out, out


def test_a_missing_dag_folder_is_a_usage_error(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, "--xcom-dags", "nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --xcom-dags: */nowhere does not exist"])


def test_connections_and_services_a_dag_needs_come_from_the_conftest(pytester, monkeypatch):
    warehouse = """
    import os
    from airflow_compat import dag, task

    @dag(schedule=None)
    def warehouse_flow():
        @task
        def extract():
            raise RuntimeError("extract reached for the warehouse")

        @task
        def transform(rows):
            return {"rows": len(rows), "region": os.environ["AIRFLOW_VAR_REGION"]}

        transform(extract())

    warehouse_flow()
    """
    _repository(pytester, {"warehouse.py": warehouse}, hook="""
        import pytest

        @pytest.fixture
        def region_variable(monkeypatch):
            monkeypatch.setenv("AIRFLOW_VAR_REGION", "eu")

        def pytest_xcom_dag_run(dag, path):
            # the warehouse is out of CI's reach: run transform alone, on rows given in extract's place
            return {"tasks": ["transform"], "upstream": {"extract": [1, 2, 3]},
                    "marks": [pytest.mark.usefixtures("region_variable")]}
        """)  # fmt: skip
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags", UPDATE)
    result.assert_outcomes(passed=2)
    manifest = json.loads(_snapshot(pytester, "warehouse.py", "warehouse_flow").read_text())["1"]
    assert manifest["xcoms"]["transform"]["-1"]["return_value"]["value"] == '{"region": "eu", "rows": 3}', manifest


def test_a_folder_without_dag_files_says_why_nothing_was_collected(pytester, monkeypatch):
    _repository(pytester, {"helpers.py": HELPER, "ignored_dag.py": IGNORED, ".airflowignore": "ignored_dag.py\n"})
    result = _run(pytester, monkeypatch, "--xcom-dags", "dags")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(
        ["pytest-xcom: no DAG file in dags by Airflow's rules (.airflowignore; safe mode: a DAG file mentions*"]
    )
