"""The end-of-session view of every DAG run: terminal summary lines and the HTML file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_xcom.record.events import instance_label
from pytest_xcom.record.run import XComRun
from pytest_xcom.sizes import human

TOP = 5


@dataclass
class Collected:
    """(test node id, run) for every DAG run of the session, in the order tests finished."""

    entries: list[tuple[str, XComRun]] = field(default_factory=list)

    def add(self, nodeid: str, runs: list[dict[str, Any]]) -> None:
        self.entries.extend((nodeid, XComRun.from_dict(data)) for data in runs)


def _total(run: XComRun) -> int:
    return sum(p.counted_size for p in run.effective_pushes())


def summary_lines(collected: Collected) -> list[str]:
    entries = collected.entries
    pushes = [(nodeid, run, push) for nodeid, run in entries for push in run.effective_pushes()]
    total = sum(push.counted_size for _, _, push in pushes)
    failed = sum(1 for _, run in entries if not run.succeeded)
    lines = [
        f"{len(entries)} DAG run(s) in {len({n for n, _ in entries})} test(s): {len(pushes)} XCom(s), "
        f"{human(total)} in total" + (f"; {failed} run(s) did not succeed" if failed else "")
    ]
    lines.append("Runs with the most XCom bytes:")
    for nodeid, run in sorted(entries, key=lambda e: _total(e[1]), reverse=True)[:TOP]:
        lines.append(f"  {human(_total(run)):>10}  {run.dag_id} ({len(run.effective_pushes())} XComs)  {nodeid}")
    if pushes:
        lines.append("Largest XComs:")
        for nodeid, run, push in sorted(pushes, key=lambda e: e[2].counted_size, reverse=True)[:TOP]:
            offloaded = ", offloaded" if push.offloaded else ""
            where = instance_label(push.task_id, push.map_index)
            lines.append(f"  {human(push.size):>10}  {run.dag_id}.{where} {push.key!r}{offloaded}  {nodeid}")
    violations = [(nodeid, run) for nodeid, run in entries if run.policy_violations]
    if violations:
        lines.append(f"XCom policy violations in {len({n for n, _ in violations})} test(s):")
        for nodeid, run in violations:
            first = run.policy_violations[0].splitlines()[0]
            lines.append(f"  {nodeid} ({run.dag_id}): {first}")
    return lines


def write_html(collected: Collected, path: Path) -> Path:
    from pytest_xcom.reporting.html import render_html

    path = path.expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(collected.entries), encoding="utf-8")
    return path
