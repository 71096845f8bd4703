"""The plain-text report of one run: its XComs and, under each, who read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_xcom.record.events import instance_label
from pytest_xcom.sizes import human

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun


def text_report(run: XComRun) -> str:
    """A table of pushes (task, map index, key, size, offloaded) and, under each, who read it."""
    pushes = run.ordered_pushes()
    total = sum(p.counted_size for p in pushes)
    lines = [
        f"XCom report for DAG {run.dag_id!r}, run {run.run_id} ({run.state}): "
        f"{len(pushes)} XCom(s), {human(total)}, {len(run.pulls)} read(s), backend {run.backend!r}"
    ]
    notes = [
        f"  note: the trigger of {instance_label(t.task_id, t.map_index, t.iteration)} carried XCom(s) "
        f"{', '.join(repr(k) for k in sorted(t.xcoms))}, which dag.test() does not push (a triggerer would)"
        for t in run.trigger_xcoms
        if not t.pushed
    ]
    if run.marked_success:
        ran = [t for t in run.task_ids if t not in run.marked_success]
        lines.append(
            f"  partial run: ran {', '.join(ran) or '(nothing)'}; "
            f"marked success without running: {', '.join(run.marked_success)}"
        )
    if not pushes:
        lines.append("  (no XComs pushed)")
        return "\n".join([*lines, *notes])
    given = any(p.given for p in pushes)  # a "source" column only when the test gave XComs
    rows = [("task", "map", "key", "size", "stored", "offloaded", *(("source",) if given else ()))]
    for p in pushes:
        rows.append(
            (
                p.task_id if p.iteration is None else f"{p.task_id}@{p.iteration}",  # a task loop's iteration
                str(p.map_index) if p.map_index >= 0 else "-",
                p.key,
                human(p.size),
                human(p.stored_size),
                "yes" if p.offloaded else "no",
                *((("given" if p.given else "task"),) if given else ()),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def fmt(row: tuple[str, ...]) -> str:
        return "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

    lines.append(fmt(rows[0]))
    for push, row in zip(pushes, rows[1:], strict=True):
        lines.append(fmt(row))
        consumers = run.readers(push)
        lines.append("      -> read by: " + (", ".join(consumers) if consumers else "(nobody)"))
    return "\n".join([*lines, *notes])
