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
