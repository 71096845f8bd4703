"""``pytest-xcom diff --html``: the same diff as the terminal shows, as one self-contained page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_xcom.reporting.html import CSP, CSS, table
from pytest_xcom.reporting.markup import e

if TYPE_CHECKING:
    from pytest_xcom.snapshots.crossdiff import DiffReport, EntryDiff, Where

TITLE = "pytest-xcom diff"


def _where(where: Where) -> str:
    file, entry = where
    return f"<code>{e(file)}</code> \u00b7 entry <code>{e(entry)}</code>" if file else f"entry <code>{e(entry)}</code>"


def _entry(entry: EntryDiff) -> str:
    badge = '<span class="badge state-failed">DAG sees a change</span>' if entry.changes.dag else (
        '<span class="badge state-other">storage only</span>'
    )
    parts = [f'<section class="run"><h2>{_where(entry.where)} {badge}</h2>',
             f'<p class="meta">DAG <code>{e(entry.dag_id)}</code></p>']
    parts += [f'<p class="meta">note: {e(note)}</p>' for note in entry.notes]
    for title, lines in (("What the DAG sees", entry.changes.dag), ("Storage only", entry.changes.storage)):
        if lines:
            items = "".join(f"<li><code>{e(line)}</code></li>" for line in lines)
            parts += [f"<h3>{title}</h3>", f"<ul>{items}</ul>"]
    parts.append("</section>")
    return "\n".join(parts)


def render_diff_html(report: DiffReport) -> str:
    sides = table(
        ["side", "snapshots", "Airflow"],
        [
            [name, e(side.given), e(", ".join(side.airflow_versions()) or "no entries")]
            for name, side in (("old", report.old), ("new", report.new))
        ],
    )
    verdict = "bad" if report.dag_changed else ""
    body = [
        '<section class="summary">',
        sides,
        f'<p class="totals"><b class="{verdict}">{e(report.summary())}</b></p>',
        "</section>",
        *(_entry(entry) for entry in report.changed),
    ]
    for title, wheres in (("Only in old", report.only_old), ("Only in new", report.only_new)):
        if wheres:
            items = "".join(f"<li>{_where(w)}</li>" for w in wheres)
            body.append(f'<section class="run"><h2>{title} ({len(wheres)})</h2><ul>{items}</ul></section>')
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{TITLE}</title><style>{CSS}</style></head><body>",
            f"<h1>{TITLE}</h1>",
            *body,
            "</body></html>",
        ]
    )
