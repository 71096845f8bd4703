"""The cold start's garbage-collector tuning: raised for start-up, given back after the first test.

Each case runs pytest in a subprocess: this process imported the plugin long ago.
"""

import gc

from pytest_xcom import gc_tuning

SESSION = """
import gc, json, pathlib

def test_first(xcom):
    from airflow_compat import dag, task

    @dag(schedule=None)
    def tiny():
        @task
        def one():
            return 1
        one()

    xcom.run(tiny()).assert_succeeded()
    print("FIRST", gc.get_threshold()[0])
    {first_extra}

def test_second():
    print("SECOND", gc.get_threshold()[0])
"""


def _run(user_tests, first_extra: str = "pass"):
    result = user_tests(SESSION.format(first_extra=first_extra), "-s", subprocess=True)
    result.assert_outcomes(passed=2)
    return result


def test_start_up_collects_less_and_the_first_test_gives_the_thresholds_back(user_tests):
    default = gc.get_threshold()[0] if not gc_tuning._saved else gc_tuning._saved[0]
    result = _run(user_tests)
    result.stdout.fnmatch_lines([f"*FIRST {gc_tuning.STARTUP_THRESHOLD}*", f"*SECOND {default}"])


def test_the_switch_turns_it_off(user_tests, monkeypatch):
    monkeypatch.setenv("PYTEST_XCOM_GC_TUNING", "0")
    result = _run(user_tests)
    result.stdout.fnmatch_lines(["*FIRST 700*", "*SECOND 700"])


def test_thresholds_a_test_sets_stand(user_tests):
    result = _run(user_tests, first_extra="gc.set_threshold(1234, 10, 10)")
    result.stdout.fnmatch_lines(["*SECOND 1234"])


def test_a_higher_threshold_is_never_lowered(monkeypatch):
    preset = (60_000, 10, 10)
    saved = gc.get_threshold()
    monkeypatch.setattr(gc_tuning, "_saved", None)
    try:
        gc.set_threshold(*preset)
        gc_tuning.defer_collections()
        assert gc.get_threshold() == preset and gc_tuning._saved is None
        gc_tuning.end_startup()
        assert gc.get_threshold() == preset
    finally:
        gc.set_threshold(*saved)
