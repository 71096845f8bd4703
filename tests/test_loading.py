"""xcom.load_dag: DAG files anywhere on disk, and clear errors for files that are not usable."""

import textwrap

import pytest


def test_dag_file_outside_any_dags_folder(user_tests, pytester):
    pytester.mkdir("elsewhere")
    pytester.path.joinpath("elsewhere", "helpers.py").write_text("def rows():\n    return [1, 2, 3]\n")
    pytester.path.joinpath("elsewhere", "report_dag.py").write_text(
        textwrap.dedent(
            """
            from airflow_compat import dag, task
            from helpers import rows   # a neighbour module, as in a DAG bundle

            @dag(schedule=None)
            def report():
                @task
                def extract():
                    return rows()

                @task
                def count(values):
                    return len(values)

                count(extract())

            report()
            """
        )
    )
    result = user_tests(
        """
        def test_runs_a_dag_file_from_anywhere(xcom):
            dag = xcom.load_dag("elsewhere/report_dag.py")
            run = xcom.run(dag)
            run.assert_succeeded()
            assert run.value("count") == 3
        """
    )
    result.assert_outcomes(passed=1)


def test_choosing_among_several_dags(user_tests):
    result = user_tests(
        """
        import pytest

        def test_pick(xcom):
            with pytest.raises(Exception) as many:
                xcom.load_dag("two_dags.py")
            with pytest.raises(Exception) as unknown:
                xcom.load_dag("two_dags.py", dag_id="gamma")
            beta = xcom.load_dag("two_dags.py", dag_id="beta")   # auto-registered @dag call
            assert xcom.run(beta).value("b") == 2
            print("MANY", many.value)
            print("UNKNOWN", unknown.value)
        """,
        "-s",
        dag_files=("two_dags.py",),
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "MANY DAG file 'two_dags.py' defines 2 DAGs (alpha, beta); pass dag_id= to choose one",
            "UNKNOWN DAG file 'two_dags.py' has no DAG 'gamma'; it defines: alpha, beta",
        ]
    )


def test_unusable_dag_files_give_clear_errors(user_tests, pytester):
    pytester.path.joinpath("syntax_error.py").write_text("from airflow_compat import dag\ndef broken(:\n")
    pytester.path.joinpath("raises.py").write_text("import os\nraise RuntimeError('needs DB_PASSWORD')\n")
    pytester.path.joinpath("no_dag.py").write_text("VALUE = 1\n")
    result = user_tests(
        """
        import pytest
        from pytest_xcom import DagFileError

        @pytest.mark.parametrize("path", ["syntax_error.py", "raises.py", "no_dag.py", "missing.py", "."])
        def test_error(xcom, path):
            with pytest.raises(DagFileError) as info:
                xcom.load_dag(path)
            print("ERROR", path, "=>", str(info.value).splitlines()[0])
        """,
        "-s",
    )
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines_random(
        [
            "*ERROR syntax_error.py => could not import DAG file 'syntax_error.py': SyntaxError: invalid syntax*",
            "*ERROR raises.py => could not import DAG file 'raises.py': RuntimeError: needs DB_PASSWORD",
            "*ERROR no_dag.py => DAG file 'no_dag.py' defines no DAG: no DAG object at module level and no @dag function called at module level",
            "*ERROR missing.py => DAG file 'missing.py' does not exist (resolved to *missing.py)",
            "*ERROR . => DAG file '.' is a directory, not a file (resolved to *)",
        ]
    )


@pytest.mark.bad_input("dag-file-calls-sys-exit")
def test_a_dag_file_that_exits_at_import_is_a_clear_error_and_leaves_nothing_behind(user_tests):
    result = user_tests(
        """
        import sys
        import pytest
        from pytest_xcom import DagFileError

        def test_case(xcom, tmp_path):
            (tmp_path / "quits.py").write_text("import sys\\nsys.exit(2)\\n")
            before = list(sys.path)
            with pytest.raises(DagFileError) as info:
                xcom.load_dag(tmp_path / "quits.py")
            assert sys.path == before
            print("MESSAGE", info.value)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*MESSAGE DAG file '*quits.py' called sys.exit(2) while it was imported: *"])


@pytest.mark.bad_input("yaml-file-as-dag-file")
def test_a_yaml_file_is_not_a_dag_file(user_tests):
    result = user_tests(
        """
        import pytest
        from pytest_xcom import DagFileError

        def test_case(xcom, tmp_path):
            (tmp_path / "dags.yaml").write_text("etl:\\n  schedule: daily\\n")
            with pytest.raises(DagFileError) as info:
                xcom.load_dag(tmp_path / "dags.yaml")
            print("MESSAGE", info.value)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*MESSAGE DAG file '*dags.yaml' is not a Python file (.yaml): *load the .py file*"])
