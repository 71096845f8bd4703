"""``pytest-xcom diff --html``: the same diff as the terminal shows, as one self-contained page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup

from pytest_xcom.reporting.html import CSP, CSS, environment

if TYPE_CHECKING:
    from pytest_xcom.snapshots.crossdiff import DiffReport

TITLE = "pytest-xcom diff"


def render_diff_html(report: DiffReport) -> str:
    template = environment().get_template("diff.html.j2")
    return template.render(title=TITLE, csp=CSP, css=Markup(CSS), report=report)
