"""The end-of-session view of every DAG run: terminal summary lines and the HTML file."""

from __future__ import annotations

import os
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
    outcomes: dict[str, str] = field(default_factory=dict)  # each test's pytest outcome, by node id

    def add(self, nodeid: str, runs: list[dict[str, Any]], *, outcome: str | None = None) -> None:
        self.entries.extend((nodeid, XComRun.from_dict(data)) for data in runs)
        if outcome is not None:
            self.outcomes[nodeid] = outcome


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


def report_path(value: str) -> Path:
    """Where ``--xcom-report`` writes: ``~`` expanded, relative to the current directory."""
    return Path(value).expanduser().resolve()


def report_path_problem(path: Path) -> str | None:
    """Why the HTML report cannot be written to ``path`` (checked at start-up), or None.

    Nothing is created: a missing folder is created when the report is written, so here it is
    enough that its nearest existing ancestor is a folder we may write in.
    """
    if path.is_dir():
        return f"{path} is a directory: give the report a file name, e.g. {path / 'xcom-report.html'}"
    if path.exists():
        if not path.is_file():
            return f"{path} exists and is not a regular file"
        if not os.access(path, os.W_OK):
            return f"{path} is not writable"
        return None
    parent = path.parent
    while not parent.exists():  # the root always exists
        parent = parent.parent
    if not parent.is_dir():
        return f"the folder {path.parent} cannot be created: {parent} is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        if parent == path.parent:
            return f"the folder {parent} is not writable"
        return f"the folder {path.parent} cannot be created: {parent} is not writable"
    return None


def write_html(collected: Collected, path: Path) -> Path:
    """Write the report (creating its folder); an ``OSError`` when that fails."""
    from pytest_xcom.reporting.html import render_html

    path = path.expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(collected.entries, outcomes=collected.outcomes), encoding="utf-8")
    return path
