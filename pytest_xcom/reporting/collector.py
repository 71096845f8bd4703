"""The session's collector of DAG runs: the terminal summary and the ``--xcom-report`` page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_xcom.reporting import ci, terminal

RUNS_ATTRIBUTE = "xcom_runs"  # set on teardown reports; survives xdist's report transport


class XComReporter:
    """Collects every run of the session (from xdist workers too) for the summary and HTML.

    The HTML report is written when the session finishes. Its path was checked at start-up; if
    writing still fails, the terminal summary says so in one line (no traceback) and the exit
    status becomes ``USAGE_ERROR`` (4) when it would otherwise have been 0 or 5.
    """

    def __init__(self, config: pytest.Config, report_path: Path | None = None) -> None:
        self.config = config
        self.collected = terminal.Collected()
        self.report_path = report_path
        self.report_written: Path | None = None
        self.report_error: str | None = None
        self._phases: dict[str, list[tuple[str, str, bool]]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Every phase's outcome, for the test's outcome beside its runs' states in the HTML report.
        phases = self._phases.setdefault(report.nodeid, [])
        phases.append((report.when or "", report.outcome, hasattr(report, "wasxfail")))
        if report.when != "teardown":
            return
        outcome = ci.outcome_of(self._phases.pop(report.nodeid))
        runs = getattr(report, RUNS_ATTRIBUTE, None)
        if runs:
            self.collected.add(report.nodeid, runs, outcome=outcome)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.report_path is None or hasattr(self.config, "workerinput"):
            return
        try:
            self.report_written = terminal.write_html(self.collected, self.report_path)
        except OSError as exc:
            self.report_error = (
                f"pytest-xcom: ERROR: the HTML report (--xcom-report) could not be written to "
                f"{self.report_path}: {exc.strerror or exc}"
            )
            if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
                session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: the controller reports for every worker
        if self.collected.entries:
            terminalreporter.write_sep("=", "pytest-xcom")
            for line in terminal.summary_lines(self.collected):
                terminalreporter.write_line(line)
        if self.report_written is not None:
            terminalreporter.write_line(
                f"pytest-xcom: HTML report of {len(self.collected.entries)} DAG run(s) written to {self.report_written}"
            )
        if self.report_error is not None:
            terminalreporter.write_line(self.report_error, red=True, bold=True)
