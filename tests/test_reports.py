"""--xcom-report writes the HTML file; pytest-xcom inspect prints a run's report."""

import os
import shutil
import sys
from pathlib import Path


def test_xcom_report_option_writes_one_self_contained_file(user_tests, pytester):
    result = user_tests(
        """
        from mapped_dag import mapped_dag
        from failing_dag import failing_dag

        def test_mapped(xcom):
            xcom.run(mapped_dag)

        def test_failing(xcom):
            xcom.run(failing_dag)
        """,
        "--xcom-report=out/xcom.html",
        dag_files=("mapped_dag.py", "failing_dag.py"),
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["pytest-xcom: HTML report of 2 DAG run(s) written to *out/xcom.html"])
    html = (pytester.path / "out" / "xcom.html").read_text()
    for task_id in ("files", "size", "total", "per_day.fetch", "extract", "transform", "load"):
        assert f'data-task-id="{task_id}"' in html
    assert "test_user.py::test_mapped" in html and "test_user.py::test_failing" in html
    assert "http://" not in html and "https://" not in html


def test_xcom_report_ini_and_xdist(user_tests, pytester):
    pytester.makeini("[pytest]\nxcom_report = report.html\n")
    result = user_tests(
        """
        import pytest
        from mapped_dag import mapped_dag

        @pytest.mark.parametrize("n", range(3))
        def test_mapped(xcom, n):
            xcom.run(mapped_dag)
        """,
        "-n",
        "2",
        dag_files=("mapped_dag.py",),
        subprocess=True,
    )
    result.assert_outcomes(passed=3)
    html = (pytester.path / "report.html").read_text()
    assert all(f"test_mapped[[]{n}]" in html or f"test_mapped[{n}]" in html for n in range(3))


def _inspect(pytester, *args):
    """Run the ``pytest-xcom`` command as installed, with the loopback guard in place."""
    tests_dir = os.path.dirname(__file__)
    script = (
        f"import sys; sys.path.insert(0, {tests_dir!r}); import loopback_guard; loopback_guard.install(); "
        "from pytest_xcom.cli import main; sys.argv[0] = 'pytest-xcom'; sys.exit(main())"
    )
    installed = Path(sys.executable).parent / "pytest-xcom"
    assert installed.exists() or shutil.which("pytest-xcom"), "the pytest-xcom command is not installed"
    return pytester.run(sys.executable, "-c", script, "inspect", *args)


def test_inspect_prints_the_report_and_exits_zero(pytester):
    pytester.copy_example("mapped_dag.py")
    result = _inspect(pytester, "mapped_dag.py", "--html", "inspect.html")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "XCom report for DAG 'mapped', run manual__2026-01-01T00:00:00+00:00 (success): 14 XCom(s), *",
            "  files * - * return_value * 27 B * 27 B * no",
            "HTML report written to *inspect.html",
        ]
    )
    assert "DAG bundles loaded" not in result.stdout.str()  # Airflow's own log stays out of the way
    assert 'data-task-id="total"' in (pytester.path / "inspect.html").read_text()


def test_inspect_fails_when_the_run_fails(pytester):
    pytester.copy_example("failing_dag.py")
    result = _inspect(pytester, "failing_dag.py")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["--- transform failed ---", "*ValueError: invalid literal for int()*"])
    result.stderr.fnmatch_lines(["DAG run 'failing' ended 'failed'"])


def test_inspect_bad_input(pytester):
    pytester.copy_example("two_dags.py")
    result = _inspect(pytester, "two_dags.py")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-xcom: DAG file 'two_dags.py' defines 2 DAGs (alpha, beta); pass --dag-id to choose one"])
    result = _inspect(pytester, "two_dags.py", "--dag-id", "alpha", "--conf", "{not json")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-xcom: --conf is not valid JSON: *"])
    assert _inspect(pytester, "two_dags.py", "--dag-id", "alpha").ret == 0


def test_inspect_says_what_is_wrong_and_exits_2(pytester):
    pytester.makepyfile(
        cyclic_dag="""
        from airflow_compat import dag, task

        @dag(schedule=None)
        def cyclic():
            @task
            def a():
                return 1

            @task
            def b():
                return 2

            x, y = a(), b()
            x >> y >> x

        cyclic()
        """,
        quits="import sys\nsys.exit(3)\n",
    )
    pytester.copy_example("two_dags.py")
    result = _inspect(pytester, "cyclic_dag.py")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-xcom: *Cycle detected in*cyclic*"])
    assert "Traceback" not in result.stderr.str()
    result = _inspect(pytester, "quits.py")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-xcom: DAG file 'quits.py' called sys.exit(3) while it was imported*"])
    result = _inspect(pytester, "two_dags.py")
    result.stderr.fnmatch_lines(["*defines 2 DAGs (alpha, beta); pass --dag-id to choose one"])
    (pytester.path / "out").mkdir()
    result = _inspect(pytester, "two_dags.py", "--dag-id", "alpha", "--html", "out")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-xcom: --html out: is a directory; name a file, e.g. --html xcom-report.html"])
