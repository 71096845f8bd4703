"""A self-contained HTML report of recorded runs: a flow graph per run, and its tables.

Everything (CSS, SVG) is inline: the file loads nothing over the network when viewed.
"""

from __future__ import annotations

import reprlib
from importlib import resources
from typing import TYPE_CHECKING

from pytest_xcom.record.events import instance_label
from pytest_xcom.reporting.markup import e
from pytest_xcom.reporting.svg import render_svg
from pytest_xcom.sizes import human

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun

_preview = reprlib.Repr()
_preview.maxstring, _preview.maxother, _preview.maxlist, _preview.maxdict, _preview.maxlevel = 60, 60, 4, 4, 2
CSS = resources.files("pytest_xcom.reporting").joinpath("report.css").read_text(encoding="utf-8")


def table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """``rows`` hold HTML already escaped."""
    header = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def render_run(number: int, test_id: str, run: XComRun) -> str:
    pushes = run.ordered_pushes()
    given = any(p.given for p in pushes)  # a "source" column only when the test gave XComs
    rows = []
    for p in pushes:
        who = run.readers(p)
        rows.append(
            [
                f"<code>{e(p.task_id)}</code>",
                *([GIVEN_BADGE if p.given else "task"] if given else []),
                str(p.map_index) if p.map_index >= 0 else "\u2013",
                f"<code>{e(p.key)}</code>",
                f'<span class="num">{e(human(p.size))}</span>',
                f'<span class="num">{e(human(p.stored_size))}</span>',
                f'<span class="off" title="{e(_preview.repr(p.stored))}">yes</span>' if p.offloaded else "no",
                ", ".join(f"<code>{e(r)}</code>" for r in who) or '<span class="unused">nobody</span>',
                f'<code class="value">{e(_preview.repr(p.value))}</code>',
            ]
        )
    total = sum(p.counted_size for p in pushes)
    state_css = "ok" if run.state == "success" else "failed" if run.state == "failed" else "other"
    parts = [
        f'<section class="run" id="run-{number}">',
        f'<h2>{e(run.dag_id)} <span class="badge state-{state_css}">{e(run.state)}</span></h2>',
        f'<p class="meta">test <code>{e(test_id)}</code> \u00b7 run <code>{e(run.run_id)}</code> \u00b7 '
        f"backend <code>{e(run.backend)}</code> \u00b7 {run.duration:.2f} s \u00b7 {len(pushes)} XCom(s), "
        f"{e(human(total))} \u00b7 {len(run.pulls)} read(s)</p>",
        *_partial_run_note(run),
        f'<div class="graph">{render_svg(run, f"run{number}")}</div>',
        "<h3>XComs pushed</h3>",
        table(["task", *(["source"] if given else []), *PUSH_COLUMNS], rows)
        if rows
        else '<p class="empty">No XComs pushed.</p>',
    ]
    missing = [p for p in run.pulls if not p.found]
    if missing:
        parts += [
            "<h3>Reads that found nothing</h3>",
            table(
                ["reader", "source", "key", "kind"],
                [
                    [
                        f"<code>{e(instance_label(p.task_id, p.map_index))}</code>",
                        f"<code>{e(p.source_task_id)}</code>",
                        f"<code>{e(p.key)}</code>",
                        e(p.kind),
                    ]
                    for p in missing
                ],
            ),
        ]
    if run.failures:
        parts += [
            "<h3>Failures</h3>",
            table(
                ["task", "error"],
                [[f"<code>{e(where)}</code>", f"<pre>{e(text)}</pre>"] for where, text in run.failures.items()],
                "failures",
            ),
        ]
    if run.policy_violations:
        items = "".join(f"<li>{e(v)}</li>" for v in run.policy_violations)
        parts += ["<h3>Policy violations</h3>", f"<ul>{items}</ul>"]
    parts.append("</section>")
    return "\n".join(parts)


PUSH_COLUMNS = ["map index", "key", "size", "stored size", "offloaded", "readers", "value"]
GIVEN_BADGE = (
    '<span class="badge given" title="given by the test (upstream=), not pushed by a task" '
    'style="background:#fff8e1;border-color:#f9a825;color:#8d6e00">given</span>'
)


def _partial_run_note(run: XComRun) -> list[str]:
    """A partial run says which tasks ran and which were marked success without running."""
    if not run.marked_success:
        return []
    ran = [t for t in run.task_ids if t not in run.marked_success]
    return [
        '<p class="meta partial">partial run \u00b7 ran '
        + (", ".join(f"<code>{e(t)}</code>" for t in ran) or "nothing")
        + ' \u00b7 <span title="dag.test(mark_success_pattern=...)">marked success without running</span> '
        + ", ".join(f"<code>{e(t)}</code>" for t in run.marked_success)
        + "</p>"
    ]


def render_summary(entries: list[tuple[str, XComRun]]) -> str:
    effective = [run.effective_pushes() for _, run in entries]
    everything = [
        (n, run, p)
        for n, (_, run), pushes in zip(range(1, len(entries) + 1), entries, effective, strict=True)
        for p in pushes
    ]
    total = sum(p.counted_size for *_, p in everything)
    stored = sum(p.stored_size for *_, p in everything)
    failed = sum(1 for _, run in entries if run.state != "success")
    largest = sorted(everything, key=lambda item: -item[2].counted_size)[:5]
    parts = [
        '<section class="summary">',
        f'<p class="totals"><b>{len(entries)}</b> run(s) \u00b7 <b>{len(everything)}</b> XCom(s) \u00b7 '
        f"<b>{e(human(total))}</b> serialized, {e(human(stored))} in the metadata DB \u00b7 "
        f'<b class="{"bad" if failed else ""}">{failed}</b> run(s) not successful</p>',
        '<p class="legend"><span class="sw state-ok"></span>success '
        '<span class="sw state-failed"></span>failed <span class="sw state-upfailed"></span>upstream failed '
        '<span class="sw state-other"></span>other <span class="ln"></span>XCom read '
        '<span class="ln off"></span>offloaded XCom read \u00b7 stacked cards: mapped task</p>',
        table(
            ["#", "test", "DAG", "state", "XComs", "bytes"],
            [
                [
                    f'<a href="#run-{n}">{n}</a>',
                    f"<code>{e(test_id)}</code>",
                    f"<code>{e(run.dag_id)}</code>",
                    e(run.state),
                    str(len(pushes)),
                    e(human(sum(p.counted_size for p in pushes))),
                ]
                for n, (test_id, run), pushes in zip(range(1, len(entries) + 1), entries, effective, strict=True)
            ],
        ),
    ]
    if largest:
        head = ["run", "task", "key", "size", "stored size", "offloaded"]
        parts += [
            "<h3>Largest XComs</h3>",
            table(
                head,
                [
                    [
                        f'<a href="#run-{n}">{e(run.dag_id)}</a>',
                        f"<code>{e(instance_label(p.task_id, p.map_index))}</code>",
                        f"<code>{e(p.key)}</code>",
                        e(human(p.size)),
                        e(human(p.stored_size)),
                        "yes" if p.offloaded else "no",
                    ]
                    for n, run, p in largest
                ],
            ),
        ]
    parts.append("</section>")
    return "\n".join(parts)


CSP = "default-src 'none'; style-src 'unsafe-inline'"


def render_html(entries: list[tuple[str, XComRun]], *, title: str = "pytest-xcom report") -> str:
    """The whole report: a summary, then per (test node id, run) its flow graph and tables."""
    body = [render_summary(entries)] if entries else ['<p class="empty">No DAG runs were recorded.</p>']
    body += [render_run(n, test_id, run) for n, (test_id, run) in enumerate(entries, 1)]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            # Nothing may load from anywhere: the report must look the same offline.
            f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
            f"<h1>{e(title)}</h1>",
            *body,
            "</body></html>",
        ]
    )
