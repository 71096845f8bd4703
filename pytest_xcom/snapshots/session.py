"""The snapshot session: which tests exist, unused snapshots, the summary, xdist.

File layout: see ``files.py``; the assertion side: ``assertion.py``.

Unused snapshots, and the rule that keeps deselected tests safe:

- A *file* is unused when no test of this session maps to it, and an *entry* when its test
  passed without asserting it. Entries are judged only for tests that passed: a failed test may
  not have reached its ``assert_match`` calls.
- A test "exists" when it was collected, whether it then ran, was skipped or was deselected:
  pytest collects every test of a module before ``-k``, ``-m`` or ``--deselect`` drop any, so
  deselecting never makes a snapshot look unused.
- A module's files are judged only when the module was collected in full: not when a node id
  narrowed it (``path::test``) and not when its collection failed. ``--lf`` and ``--pyargs``
  narrow collection where a plugin cannot see it, so they turn the whole check off.
- ``__xcom_snapshots__/<stem>/`` beside a collected module, whose ``<stem>.py`` is gone, is
  unused as a whole (directories beside modules this session did not collect are not read).

With the update flag unused files and entries are deleted, and reported as deleted.

Under pytest-xdist each worker writes the files of the tests it runs (a test's file is only
written by the process that runs it). Counts and unused entries travel to the controller on
teardown reports; every worker collects every test, so each finds the same unused files and the
first teardown report of each worker carries them. The controller prints the summary and deletes
unused files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_xcom.snapshots.assertion import COUNTS, SNAPSHOT, XComSnapshot
from pytest_xcom.snapshots.files import (
    SNAPSHOT_DIR,
    UPDATE_FLAG,
    file_name_for,
    item_location,
    snapshot_path,
    write_entries,
)

REPORT_ATTRIBUTE = "xcom_snapshots"  # set on teardown reports; survives xdist's report transport
_PASSED = pytest.StashKey[bool]()


@dataclass
class Totals:
    """What every process reported: snapshot counts, and unused files and entries."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    unused: set[tuple[str, str]] = field(default_factory=set)  # (absolute path, entry or "")

    def add(self, data: dict[str, Any]) -> None:
        for name, count in data.get("counts", {}).items():
            self.counts[name] = self.counts.get(name, 0) + count
        self.unused.update((path, entry) for path, entry in data.get("unused", []))


class SnapshotPlugin:
    """Registered by pytest_xcom.plugin: tracks collection, finishes tests, prints the summary."""

    def __init__(self, config: pytest.Config, *, update: bool) -> None:
        self.config = config
        self.update = update
        self.totals = Totals()
        self._modules: dict[Path, set[str]] = {}  # collected module -> names of its tests
        self._partial: set[Path] = set()
        self._unused_files: list[Path] = []

    def display(self, path: Path) -> str:
        try:
            return Path(path).relative_to(self.config.rootpath.resolve()).as_posix()
        except ValueError:
            return str(path)

    # collection: which tests exist
    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.Module):
            self._modules.setdefault(Path(collector.path).resolve(), set())

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        module, name = item_location(item)
        if module in self._modules:
            self._modules[module].add(name)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid:
            self._partial.add((self.config.rootpath / report.nodeid.split("::")[0]).resolve())

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        option = self.config.option
        if getattr(option, "lf", False) or getattr(option, "pyargs", False):
            return
        here = self.config.invocation_params.dir
        self._partial.update((here / arg.split("::")[0]).resolve() for arg in self.config.args if "::" in arg)
        self._unused_files = self._find_unused_files()

    def _is_partial(self, module: Path) -> bool:
        return any(p == module or p in module.parents for p in self._partial)

    def _find_unused_files(self) -> list[Path]:
        found: list[Path] = []
        for folder in sorted({module.parent for module in self._modules}):
            root = folder / SNAPSHOT_DIR
            if not root.is_dir():
                continue
            for sub in sorted(p for p in root.iterdir() if p.is_dir()):
                module = folder / f"{sub.name}.py"
                files = sorted(sub.glob("*.json"))
                if not module.exists():
                    found.extend(files)
                elif module in self._modules and not self._is_partial(module):
                    expected = {file_name_for(name) for name in self._modules[module]}
                    found.extend(f for f in files if f.name not in expected)
        return found

    # each test
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        item.stash[_PASSED] = report.passed and (call.when == "setup" or item.stash.get(_PASSED, False))
        if call.when == "teardown":
            data = self._finish(item, item.stash[_PASSED])
            if data:
                setattr(report, REPORT_ATTRIBUTE, data)
        return report

    def _finish(self, item: pytest.Item, passed: bool) -> dict[str, Any]:
        snapshot = item.stash.get(SNAPSHOT, None)
        if snapshot is None:  # a test without the fixture may still have left a file behind
            path = snapshot_path(*item_location(item))
            if not passed or not path.is_file():
                snapshot = None
            else:
                snapshot = XComSnapshot(path, update=self.update)
        data: dict[str, Any] = {}
        if snapshot is not None:
            unused = snapshot.finish(passed)
            if any(snapshot.counts.values()):
                data["counts"] = snapshot.counts
            if unused:
                data["unused"] = [[str(snapshot.path), entry] for entry in unused]
        if self._unused_files:  # sent once per process: on its first teardown report
            data.setdefault("unused", []).extend([str(path), ""] for path in self._unused_files)
            self._unused_files = []
        return data

    # the session (controller, or the only process)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTRIBUTE, None)
        if data and report.when == "teardown":
            self.totals.add(data)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.update and not hasattr(self.config, "workerinput"):
            for path, entry in self.totals.unused:
                if not entry:
                    write_entries(Path(path), {})  # deletes it, and directories left empty

    def summary_lines(self) -> list[str]:
        counts, unused = self.totals.counts, self.totals.unused
        if not any(counts.values()) and not unused:
            return []
        lines = [f"{sum(counts.values())} XCom snapshot(s): " + ", ".join(f"{counts[n]} {n}" for n in COUNTS)]
        if unused:
            if self.update:
                lines.append(f"{len(unused)} unused XCom snapshot(s) deleted:")
            else:
                lines.append(
                    f"{len(unused)} unused XCom snapshot(s) (their tests are gone or no longer assert "
                    f"them); run pytest with {UPDATE_FLAG} to delete them:"
                )
            for path, entry in sorted(unused):
                lines.append(f"  {self.display(Path(path))}" + (f" :: {entry!r}" if entry else ""))
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: the controller reports for every worker
        lines = self.summary_lines()
        if lines:
            terminalreporter.write_sep("=", "pytest-xcom snapshots")
            for line in lines:
                terminalreporter.write_line(line)
