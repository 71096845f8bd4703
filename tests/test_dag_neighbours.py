"""Modules a DAG file imports from its own folder belong to that folder and that test only."""

import textwrap

DAG_FILE = """
from airflow_compat import dag, task

import helpers   # a neighbour module, as in a DAG bundle

@dag(dag_id="{dag_id}", schedule=None)
def flow():
    @task
    def which():
        return helpers.TEAM

    which()

flow()
"""


def _write(pytester, relative: str, source: str) -> None:
    path = pytester.path.joinpath(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


def _two_teams(pytester) -> None:
    _write(pytester, "team_a/helpers.py", "TEAM = 'team a'\n")
    _write(pytester, "team_a/dag_a.py", DAG_FILE.format(dag_id="dag_a"))
    _write(pytester, "team_a/dag_a2.py", DAG_FILE.format(dag_id="dag_a2"))
    # team b's helpers is a package with a submodule: both are its own
    _write(pytester, "team_b/helpers/__init__.py", "from helpers.names import TEAM\n")
    _write(pytester, "team_b/helpers/names.py", "TEAM = 'team b'\n")
    _write(pytester, "team_b/dag_b.py", DAG_FILE.format(dag_id="dag_b"))


def test_each_dag_file_imports_its_own_folders_neighbours(user_tests, pytester):
    _two_teams(pytester)
    result = user_tests(
        """
        def test_team_a_alone(xcom):
            assert xcom.run(xcom.load_dag("team_a/dag_a.py")).value("which") == "team a"

        def test_team_b_in_a_later_test(xcom):
            assert xcom.run(xcom.load_dag("team_b/dag_b.py")).value("which") == "team b"

        def test_both_in_one_test(xcom):
            dag_a = xcom.load_dag("team_a/dag_a.py")
            dag_b = xcom.load_dag("team_b/dag_b.py")
            dag_a2 = xcom.load_dag("team_a/dag_a2.py")   # team a's folder again, after team b's
            assert xcom.run(dag_a).value("which") == "team a"
            assert xcom.run(dag_b).value("which") == "team b"
            assert xcom.run(dag_a2).value("which") == "team a"
            assert xcom.run(dag_a).value("which") == "team a"   # still its own, after the others ran
        """,
    )
    result.assert_outcomes(passed=3)


def test_nothing_a_dag_folder_imported_outlives_the_test(user_tests, pytester):
    _two_teams(pytester)
    _write(pytester, "shared_utils.py", "VALUE = 1\n")  # the user's own module, beside the test file
    _write(
        pytester,
        "test_zlater.py",
        """
        import sys

        import shared_utils

        def test_no_neighbour_survives():
            assert not [name for name in sys.modules if name == "helpers" or name.startswith("helpers.")]
            assert not [name for name in sys.modules if name.startswith("pytest_xcom_dagfile_")]
            assert not [entry for entry in sys.path if entry.endswith(("team_a", "team_b"))]

        def test_modules_from_elsewhere_are_untouched():
            assert sys.modules["shared_utils"] is shared_utils
            assert "test_user" in sys.modules
        """,
    )
    result = user_tests(
        """
        import sys

        import shared_utils

        def test_loads_both(xcom):
            xcom.load_dag("team_a/dag_a.py")
            xcom.load_dag("team_b/dag_b.py")
            assert sys.modules["helpers"].TEAM == "team b"
            assert sys.modules["helpers.names"].TEAM == "team b"
            assert sys.modules["shared_utils"] is shared_utils
        """,
    )
    result.assert_outcomes(passed=3)


def test_a_dag_file_that_fails_to_import_leaves_nothing_behind(user_tests, pytester):
    _write(pytester, "team_c/helpers.py", "TEAM = 'team c'\n")
    _write(pytester, "team_c/broken_dag.py", "import helpers\nraise RuntimeError('needs DB_PASSWORD')\n")
    _write(pytester, "team_c/no_dag.py", "import helpers\nVALUE = 1\n")
    result = user_tests(
        """
        import sys
        import pytest
        from pytest_xcom import DagFileError

        @pytest.mark.parametrize("path", ["team_c/broken_dag.py", "team_c/no_dag.py"])
        def test_failed_load(xcom, path):
            with pytest.raises(DagFileError):
                xcom.load_dag(path)
            assert "helpers" not in sys.modules
            assert not [entry for entry in sys.path if entry.endswith("team_c")]
            assert not [name for name in sys.modules if name.startswith("pytest_xcom_dagfile_")]
        """,
    )
    result.assert_outcomes(passed=2)
