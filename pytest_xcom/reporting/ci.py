"""What CI systems read about a test's DAG runs: JUnit XML properties and the test's outcome.

Pure functions of the record and of pytest's reports' outcomes: the plugin hands them to pytest
(``item.user_properties``, read by ``--junitxml`` and any other reporter) and to the HTML report.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_xcom.record.run import XComRun


def junit_properties(runs: list[XComRun]) -> list[tuple[str, str]]:
    """``xcom_runs``, ``xcom_pushes``, ``xcom_bytes``, ``xcom_largest`` (bytes of the largest XCom)
    and ``dag_run_states`` (``dag_id=state``, comma-separated, in run order) of a test's runs."""
    pushes = [push for run in runs for push in run.effective_pushes()]
    return [
        ("xcom_runs", str(len(runs))),
        ("xcom_pushes", str(len(pushes))),
        ("xcom_bytes", str(sum(push.counted_size for push in pushes))),
        ("xcom_largest", str(max((push.counted_size for push in pushes), default=0))),
        ("dag_run_states", ",".join(f"{run.dag_id}={run.state}" for run in runs)),
    ]


def outcome_of(phases: Iterable[tuple[str, str, bool]]) -> str:
    """A test's outcome from its reports' (when, outcome, was an expected failure) phases.

    A failure outside the call (setup, teardown) is an error, as pytest counts it; an ``xfail``
    that failed is "xfailed", one that passed "xpassed".
    """
    seen = list(phases)
    if any(outcome == "failed" and when != "call" for when, outcome, _ in seen):
        return "error"
    decisive = [(outcome, expected) for when, outcome, expected in seen if when == "call"]
    if not decisive:  # never called: skipped (or xfail(run=False)) at setup
        decisive = [(outcome, expected) for when, outcome, expected in seen if outcome == "skipped"]
    if not decisive:
        return "passed"
    outcome, expected = decisive[0]
    if expected:
        return "xfailed" if outcome == "skipped" else "xpassed"
    return outcome


def failed_on_purpose(outcome: str, run: XComRun) -> bool:
    """A run that did not succeed in a test that expected it: an ``xfail``, or a test that passed
    (it asserted the failure)."""
    return not run.succeeded and outcome in ("xfailed", "passed", "xpassed")

