"""What task code changes in the test process is put back after each run (issue #14 item 6)."""

from airflow_compat import requires_airflow3


@requires_airflow3(
    "the DAG calls conf.set('core', ...): Airflow 2's conf raises NoSectionError unless airflow.cfg has [core], "
    "and the harness's throwaway airflow.cfg has none there yet"
)
def test_cwd_sys_path_user_modules_conf_and_log_level_do_not_leak_into_the_next_test(user_tests, pytester):
    pytester.makepyfile(
        leaky_dag='''
import logging, os, sys
from airflow_compat import dag, task


@dag(schedule=None)
def leaky():
    @task
    def meddle(tmp: str):
        os.chdir(tmp)
        sys.path.insert(0, os.path.join(tmp, "plugins"))
        sys.path.insert(0, tmp)
        import leaked_helper  # a module of the user's, imported by task code
        from airflow.configuration import conf
        conf.set("core", "parallelism", "7")
        logging.getLogger().setLevel(logging.CRITICAL)
        return leaked_helper.VALUE

    meddle("{{ dag_run.conf['tmp'] }}")

leaky_dag = leaky()
''',
    )
    result = user_tests(
        """
        import logging, os, sys
        from leaky_dag import leaky_dag

        BEFORE = {}

        def test_first(xcom, tmp_path):
            (tmp_path / "leaked_helper.py").write_text("VALUE = 42\\n")
            from airflow.configuration import conf
            BEFORE.update(cwd=os.getcwd(), path=list(sys.path), level=logging.getLogger().level,
                          parallelism=conf.get("core", "parallelism"))
            run = xcom.run(leaky_dag, conf={"tmp": str(tmp_path)})
            run.assert_succeeded()
            assert run.value("meddle") == 42

        def test_second():
            from airflow.configuration import conf
            assert os.getcwd() == BEFORE["cwd"]
            assert sys.path == BEFORE["path"]
            assert "leaked_helper" not in sys.modules
            assert conf.get("core", "parallelism") == BEFORE["parallelism"]
            assert logging.getLogger().level == BEFORE["level"]
        """,
    )
    result.assert_outcomes(passed=2)


def test_a_sys_modules_alias_made_by_a_task_or_a_test_body_does_not_reach_the_next_test(user_tests, pytester):
    # Both leaked before: an alias points at a library module (json), which the per-run cleanup
    # of the user's own modules did not recognise, and nothing restored a test body's changes.
    pytester.makepyfile(
        alias_dag='''
import sys
from airflow_compat import dag, task


@dag(schedule=None)
def aliasing():
    @task
    def alias():
        import json
        sys.modules["pytest_xcom_task_alias"] = json
        import pytest_xcom_task_alias
        return pytest_xcom_task_alias.dumps([1])

    alias()

alias_dag = aliasing()
''',
    )
    result = user_tests(
        """
        import json, sys
        from alias_dag import alias_dag

        def test_first(xcom):
            run = xcom.run(alias_dag)
            run.assert_succeeded()
            assert run.value("alias") == "[1]"
            sys.modules["pytest_xcom_body_alias"] = json
            sys.modules["csv"] = json  # a body replacing an entry: the real module comes back

        def test_second():
            import csv
            assert "pytest_xcom_task_alias" not in sys.modules
            assert "pytest_xcom_body_alias" not in sys.modules
            assert sys.modules["csv"] is csv and csv.__name__ == "csv"
        """,
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(passed=2)


def test_airflow_config_set_in_a_test_body_or_with_conf_vars_does_not_reach_the_next_test(user_tests):
    result = user_tests(
        """
        import os
        import pytest
        from airflow.configuration import conf
        from airflow_compat import dag, task

        @dag(schedule=None)
        def reads_config():
            @task
            def limit():
                from airflow.configuration import conf
                return conf.getint("core", "max_map_length")

            limit()

        DEFAULT = conf.getint("core", "max_map_length")

        def test_first(xcom):
            if not conf.has_section("core"):  # Airflow 2.11 with no airflow.cfg, plain or not
                conf.add_section("core")
            conf.set("core", "max_map_length", "7")             # a body's own conf.set
            assert conf.getint("core", "max_map_length") == 7
            with xcom.conf_vars({("core", "max_map_length"): "16"}):
                run = xcom.run(reads_config())
                assert run.value("limit") == 16                 # task code sees it
                assert os.environ["AIRFLOW__CORE__MAX_MAP_LENGTH"] == "16"
            assert "AIRFLOW__CORE__MAX_MAP_LENGTH" not in os.environ
            assert conf.getint("core", "max_map_length") == 7  # back to the body's own value

        def test_second():
            assert conf.getint("core", "max_map_length") == DEFAULT

        def test_bad_conf_vars(xcom):
            with pytest.raises(ValueError, match=r"conf_vars takes \\{\\(section, key\\): value\\}"):
                xcom.conf_vars({"core.max_map_length": "16"})
        """,
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(passed=3)
