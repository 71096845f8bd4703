"""A self-contained HTML report of recorded runs: a flow graph per run, and its tables.

The pages are Jinja2 templates (``reporting/templates``), rendered with autoescaping: this module
only gathers what they show. Everything (CSS, SVG) is inline: the file loads nothing over the
network when viewed. The same run sections go into pytest-html's report (:func:`render_fragment`),
with the stylesheet scoped to them.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import reprlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from pytest_xcom.record.events import XComPull, XComPush, instance_label
from pytest_xcom.reporting.ci import failed_on_purpose
from pytest_xcom.reporting.svg import render_svg
from pytest_xcom.sizes import human

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun

_preview = reprlib.Repr()
_preview.maxstring, _preview.maxother, _preview.maxlist, _preview.maxdict, _preview.maxlevel = 60, 60, 4, 4, 2
CSS = resources.files("pytest_xcom.reporting").joinpath("report.css").read_text(encoding="utf-8")
CSP = "default-src 'none'; style-src 'unsafe-inline'"
OUTCOME_CSS = {
    "passed": "state-ok",
    "failed": "state-failed",
    "error": "state-failed",
    "xfailed": "state-skipped",
    "xpassed": "state-upfailed",
    "skipped": "state-skipped",
}


def _escaped(value: Any) -> Markup:
    """Every ``{{ value }}`` escaped as the pages always were (``html.escape``; markup passes as is)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_xcom.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_escaped,
    )
    env.filters["size"] = human
    env.filters["preview"] = _preview.repr
    env.filters["instance"] = instance_label
    env.globals["outcome_css"] = OUTCOME_CSS
    return env


@dataclass
class PushRow:
    """One pushed XCom as the tables show it."""

    push: XComPush
    readers: list[str]

    def __getattr__(self, name: str) -> Any:  # task_id, key, size, ... straight from the push
        return getattr(self.push, name)


@dataclass
class MissingRead:
    reader: str
    source_task_id: str
    key: str
    kind: str

    @classmethod
    def of(cls, pull: XComPull) -> MissingRead:
        return cls(instance_label(pull.task_id, pull.map_index), pull.source_task_id, pull.key, pull.kind)


@dataclass
class RunView:
    """What a run's section shows."""

    number: int
    test_id: str
    run: XComRun
    anchor: str | None
    svg: Markup
    outcome: str | None = None
    pushes: list[PushRow] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:  # dag_id, state, run_id, backend, marked_success ...
        return getattr(self.run, name)

    @property
    def given(self) -> bool:  # a "source" column only when the test gave XComs
        return any(row.given for row in self.pushes)

    @property
    def total(self) -> int:
        return sum(row.counted_size for row in self.pushes)

    @property
    def duration(self) -> str:
        return f"{self.run.duration:.2f}"

    @property
    def reads(self) -> int:
        return len(self.run.pulls)

    @property
    def state_css(self) -> str:
        return "ok" if self.run.state == "success" else "failed" if self.run.state == "failed" else "other"

    @property
    def ran(self) -> list[str]:
        return [t for t in self.run.task_ids if t not in self.run.marked_success]

    @property
    def missing(self) -> list[MissingRead]:
        return [MissingRead.of(pull) for pull in self.run.pulls if not pull.found]

    @property
    def failures(self) -> list[tuple[str, str]]:
        return list(self.run.failures.items())

    @property
    def violations(self) -> list[str]:
        return self.run.policy_violations

    @functools.cached_property
    def effective(self) -> list[XComPush]:
        return self.run.effective_pushes()

    @property
    def effective_total(self) -> int:
        return sum(p.counted_size for p in self.effective)


def run_view(number: int, test_id: str, run: XComRun, *, outcome: str | None = None, prefix: str = "") -> RunView:
    """The view of one run; ``prefix`` keeps its element ids apart from other runs' on a shared page."""
    return RunView(
        number=number,
        test_id=test_id,
        run=run,
        anchor=None if prefix else f"run-{number}",
        svg=Markup(render_svg(run, f"{prefix}run{number}")),
        outcome=outcome,
        pushes=[PushRow(p, run.readers(p)) for p in run.ordered_pushes()],
    )


@dataclass
class SummaryView:
    runs: list[RunView]
    outcomes: Mapping[str, str]

    @property
    def xcoms(self) -> int:
        return sum(len(run.effective) for run in self.runs)

    @property
    def total(self) -> int:
        return sum(run.effective_total for run in self.runs)

    @property
    def stored(self) -> int:
        return sum(p.stored_size for run in self.runs for p in run.effective)

    @property
    def failed_runs(self) -> list[RunView]:
        return [run for run in self.runs if run.state != "success"]

    @property
    def on_purpose(self) -> list[RunView]:
        return [run for run in self.runs if run.outcome is not None and failed_on_purpose(run.outcome, run.run)]

    @property
    def tests(self) -> dict[str, str]:
        """Outcome by test, for the tests that made the runs shown."""
        return {run.test_id: self.outcomes[run.test_id] for run in self.runs if run.test_id in self.outcomes}

    @property
    def failed_tests(self) -> int:
        return sum(1 for outcome in self.tests.values() if outcome in ("failed", "error"))

    @property
    def other_outcomes(self) -> list[tuple[str, int]]:
        counts = Counter(outcome for outcome in self.tests.values() if outcome not in ("failed", "error"))
        errors = sum(1 for outcome in self.tests.values() if outcome == "error")
        found = [("error", errors)] if errors else []
        return found + sorted(counts.items())

    @property
    def largest(self) -> list[tuple[RunView, XComPush]]:
        everything = [(run, p) for run in self.runs for p in run.effective]
        return sorted(everything, key=lambda item: -item[1].counted_size)[:5]


def render_html(
    entries: list[tuple[str, XComRun]],
    *,
    title: str = "pytest-xcom report",
    outcomes: Mapping[str, str] | None = None,
) -> str:
    """The whole report: a summary, then per (test node id, run) its flow graph and tables.

    ``outcomes``: each test's pytest outcome (passed, failed, xfailed, error, ...) by node id,
    shown beside its runs' states.
    """
    known = outcomes or {}
    runs = [run_view(n, test_id, run, outcome=known.get(test_id)) for n, (test_id, run) in enumerate(entries, 1)]
    template = environment().get_template("report.html.j2")
    return template.render(title=title, csp=CSP, css=Markup(CSS), runs=runs, summary=SummaryView(runs, known))


_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


@functools.cache
def scoped_css(scope: str) -> str:
    """The report's stylesheet for a fragment inside another page: every rule under ``scope``."""

    def scoped(match: re.Match[str]) -> str:
        selectors = [s.strip() for s in match.group(1).split(",")]
        inside = [scope if s == "body" else f"{scope} {s}" for s in selectors]
        return ",".join(inside) + "{" + match.group(2) + "}"

    return _RULE.sub(scoped, CSS)


def render_fragment(test_id: str, runs: list[XComRun], *, outcome: str | None = None, prefix: str = "x") -> str:
    """A test's runs as an HTML fragment for another report (pytest-html's extras): each run's
    section (graph, XCom table), styled by the report's stylesheet scoped to ``.pytest-xcom``.
    ``prefix`` makes its element ids unique on that page."""
    views = [run_view(n, test_id, run, outcome=outcome, prefix=prefix) for n, run in enumerate(runs, 1)]
    template = environment().get_template("fragment.html.j2")
    return template.render(runs=views, css=Markup(scoped_css(".pytest-xcom")))


def pytest_html_extra(nodeid: str, runs: list[XComRun]) -> dict[str, Any]:
    """pytest-html's extra for a test's row: its runs' flow graphs and XCom tables."""
    from pytest_html import extras

    prefix = "x" + hashlib.sha1(nodeid.encode()).hexdigest()[:10] + "-"  # ids unique on the shared page
    return dict(extras.html(render_fragment(nodeid, runs, prefix=prefix)))
