"""--xcom-airflow-logs: what of Airflow's own log a failing test shows."""

import re

from packaging.version import Version

from airflow_compat import AIRFLOW_VERSION, requires_airflow3

pytestmark = requires_airflow3("Airflow 2 logs each task to its own files; its output is left as it was")

# A line Airflow's structlog console renderer writes: "2026-...Z [info     ] event ..."
AIRFLOW_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[\w+\s*\]", flags=re.M)

MAPPED_FAILURE = """
import logging
from airflow_compat import dag, task

@dag(schedule=None)
def etl():
    @task
    def extract():
        logging.getLogger("user.tasks").info("extract read 3 rows")
        return [1, 2, 3]

    @task
    def transform(n):
        if n == 2:
            raise ValueError("bad row 2")
        return n * 10

    @task
    def load(values):
        return sum(values)

    load(transform.expand(n=extract()))

def test_etl(xcom):
    run = xcom.run(etl())
    assert run.value("load") == 40
"""


def _section(output: str, title: str) -> str:
    match = re.search(rf"^-+ {re.escape(title)} -+$\n(.*?)(?=^[-=]{{10,}} .* [-=]{{10,}}$)", output, flags=re.M | re.S)
    assert match is not None, f"no section {title!r} in:\n{output}"
    return match.group(1)


def test_failed_shows_the_failed_task_instances_log_in_its_own_section_and_nothing_else(user_tests):
    result = user_tests(MAPPED_FAILURE)
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    print(output)
    section = _section(output, "Airflow log: transform[1]")
    assert "ValueError: bad row 2" in section and "Task failed with exception" in section
    assert "Airflow frames hidden" in section, "the task's traceback should show the user's frames only"
    assert len(section.strip().splitlines()) <= 15, f"a failed task instance's log should be short:\n{section}"
    # The successful task instances' lines (and the run's own) are nowhere in the failure output.
    assert len(AIRFLOW_LINE.findall(output)) == len(AIRFLOW_LINE.findall(section)), output
    assert "Returned value was" not in output and "extract read 3 rows" not in output
    assert "Captured log call" not in output, "Airflow's records should not be repeated as pytest's log"
    assert "Airflow log: transform[0]" not in output and "Airflow log: extract" not in output


def test_all_shows_every_line_of_the_run_as_before(user_tests):
    result = user_tests(MAPPED_FAILURE, "--xcom-airflow-logs=all")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "Airflow log:" not in output
    stdout = _section(output, "Captured stdout call")
    assert "Returned value was: [1, 2, 3]" in stdout and "bad row 2" in stdout
    assert "extract read 3 rows" in _section(output, "Captured log call")


def test_none_shows_no_airflow_log(pytester, user_tests):
    pytester.makeini("[pytest]\nxcom_airflow_logs = none\n")
    result = user_tests(MAPPED_FAILURE)
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "Airflow log:" not in output and not AIRFLOW_LINE.search(output), output
    assert "KeyError" in output or "load" in output  # the test's own failure is still there


def test_task_code_print_output_stays_on_stdout(user_tests):
    result = user_tests(
        """
        from airflow_compat import dag, task

        @dag(schedule=None)
        def talk():
            @task
            def say():
                print("PRINTED BY THE TASK")

            say()

        def test_talk(xcom):
            xcom.run(talk())
            assert False, "show the output"
        """
    )
    result.assert_outcomes(failed=1)
    assert "PRINTED BY THE TASK" in _section(result.stdout.str(), "Captured stdout call")


def test_records_still_reach_caplog_and_the_users_own_handlers(user_tests):
    result = user_tests(
        MAPPED_FAILURE.replace("def test_etl(xcom):", "def test_etl_unused(xcom):")
        + """
import logging

class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []
    def emit(self, record):
        self.messages.append(record.getMessage())

def test_records(xcom, caplog):
    caplog.set_level(logging.INFO)
    mine = Collect()
    logging.getLogger().addHandler(mine)
    try:
        run = xcom.run(etl())
    finally:
        logging.getLogger().removeHandler(mine)
    assert run.state == "failed"
    assert "extract read 3 rows" in caplog.text
    assert "extract read 3 rows" in mine.messages
    assert any("[DAG TEST] starting task_id=extract" in m for m in caplog.messages)
""",
        "-k",
        "test_records",
    )
    result.assert_outcomes(passed=1)


def test_a_retried_task_shows_each_try(user_tests):
    result = user_tests(
        """
        from datetime import timedelta
        from airflow_compat import dag, task

        @dag(schedule=None)
        def flaky():
            @task(retries=1, retry_delay=timedelta(0))
            def fetch():
                raise ConnectionError("upstream API down")

            fetch()

        def test_flaky(xcom):
            xcom.run(flaky()).assert_succeeded()
        """
    )
    result.assert_outcomes(failed=1)
    section = _section(result.stdout.str(), "Airflow log: fetch")
    print(section)
    assert section.startswith("--- try 1 ---") and "--- try 2 ---" in section, section
    assert section.count("ConnectionError: upstream API down") == 2, section


def test_a_run_that_could_not_start_shows_the_runs_own_log(user_tests):
    result = user_tests(
        """
        from airflow_compat import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator

        def test_cycle(xcom):
            with DAG("cyclic", schedule=None) as cyclic:
                a = EmptyOperator(task_id="a")
                b = EmptyOperator(task_id="b")
                a >> b >> a
            xcom.run(cyclic)
        """
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "DagRunError: DAG 'cyclic' could not run" in output
    if AIRFLOW_VERSION < Version("3.1"):
        # Airflow 3.0 refuses the cycle before it logs a line: there is no log, so no empty section.
        assert "Airflow log" not in output, output
        return
    assert AIRFLOW_LINE.search(_section(output, "Airflow log: DAG run 'cyclic'"))


def test_a_second_run_says_which_run_its_log_is_from(user_tests):
    result = user_tests(MAPPED_FAILURE.replace('run = xcom.run(etl())', 'xcom.run(etl())\n    run = xcom.run(etl())'))
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "Airflow log: transform[1]" in output and "Airflow log (run 2): transform[1]" in output



def test_a_run_in_a_fixture_shows_its_log_in_the_failing_tests_report(user_tests):
    result = user_tests(
        MAPPED_FAILURE.replace("def test_etl(xcom):\n    run = xcom.run(etl())\n", """import pytest

@pytest.fixture
def run(xcom):
    return xcom.run(etl())

def test_etl(run):
""")
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "def test_etl(run):" in output
    assert output.count("Airflow log: transform[1]") == 1, output
