"""Human-readable reports of a run's XCom traffic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_xcom.manifest import readers
from pytest_xcom.sizes import human

if TYPE_CHECKING:
    from pytest_xcom.record import XComRun


def text_report(run: XComRun) -> str:
    """A table of pushes (task, map index, key, size, offloaded) and, under each, who read it."""
    pushes = sorted(run.effective_pushes(), key=lambda p: (run.task_ids.index(p.task_id)
                                                          if p.task_id in run.task_ids else 0,
                                                          p.map_index, p.key))
    total = sum(p.size for p in pushes)
    lines = [
        f"XCom report for DAG {run.dag_id!r}, run {run.run_id} ({run.state}): "
        f"{len(pushes)} XCom(s), {human(total)}, {len(run.pulls)} read(s), backend {run.backend!r}"
    ]
    if not pushes:
        lines.append("  (no XComs pushed)")
        return "\n".join(lines)
    rows = [("task", "map", "key", "size", "stored", "offloaded")]
    for p in pushes:
        rows.append((
            p.task_id,
            str(p.map_index) if p.map_index >= 0 else "-",
            p.key,
            human(p.size),
            human(p.stored_size),
            "yes" if p.offloaded else "no",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def fmt(row: tuple[str, ...]) -> str:
        return "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

    lines.append(fmt(rows[0]))
    for push, row in zip(pushes, rows[1:]):
        lines.append(fmt(row))
        consumers = readers(run, push)
        lines.append("      -> read by: " + (", ".join(consumers) if consumers else "(nobody)"))
    return "\n".join(lines)
