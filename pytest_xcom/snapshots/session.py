"""The snapshot session: which tests exist, unused snapshots, the summary, xdist.

File layout: see ``files.py``; the assertion side: ``assertion.py``.

Unused snapshots. A snapshot is only ever judged unused (listed, and deleted with the update
flag) on evidence from this session, the rule syrupy follows:

- An *entry* is unused when its test ran in this session, passed, and did not assert it. A
  failed, skipped or erroring test may not have reached its ``assert_match`` calls, and a test
  that did not run judges nothing.
- A *file* is unused when its module was collected in full and no test of the module maps to it.
  A file is only judged when every one of these holds:

  - nothing in the session was deselected (``-k``, ``-m``, ``--deselect``, ``--sw`` or any
    plugin that drops collected tests), and ``--lf``, ``--pyargs`` and ``--collect-only`` are not
    given: each of them turns the file check off for the whole session;
  - its module was collected without error and was not skipped at collection
    (``pytest.skip(..., allow_module_level=True)``, ``pytest.importorskip``), nor was a folder or
    package above it, no node id (``path::test``) narrowed it, and at least one test was
    collected from it (a module with ``__test__ = False`` judges nothing);
  - every selected test of the session ran (it has a teardown report), so ``-x``,
    ``--maxfail``, an interrupted session or a crashed xdist worker judge no file.

- ``__xcom_snapshots__/<stem>/`` beside a collected module, where no file ``<stem>.*`` exists
  any more, is unused as a whole, under the same conditions, and only when the command line
  named that folder (or one above it) as a whole: ``pytest tests/test_a.py`` does not judge the
  snapshots of other modules of ``tests/``.

With the update flag unused files and entries are deleted, and reported as deleted; a note says
why files were not looked for where that was the case. A directory is never deleted.

Under pytest-xdist each worker writes the files of the tests it runs (a test's file is only
written by the process that runs it), and judges that test's entries. Counts and unused entries
travel to the controller on teardown reports. Every worker collects every test, so each finds
the same candidate files; it hands them, with the node ids that must all run first, to the
controller in xdist's ``workeroutput``. The controller knows which tests ran (their teardown
reports), prints the summary and deletes the files that qualify.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from pytest_xcom.errors import SnapshotError
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
WORKER_OUTPUT = "xcom_snapshot_files"  # key of xdist's workeroutput
_PASSED = pytest.StashKey[bool]()
_PARTIAL = {
    "airflow": "written on another Airflow release passed without their storage facts compared (sizes, offloading)",
    "v1": "in the v1 format passed on what v1 records (no values, no pulls)",
}


@dataclass
class Totals:
    """What every process reported: snapshot counts, unused entries and files, problems."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    unused: set[tuple[str, str]] = field(default_factory=set)  # (absolute path, entry or "")
    rewritten: set[str] = field(default_factory=set)  # unreadable files rewritten from scratch
    problems: list[str] = field(default_factory=list)  # what could not be written or deleted
    partial: set[tuple[str, str, str]] = field(default_factory=set)  # (path, entry, why): see assertion.py

    def add(self, data: dict[str, Any]) -> None:
        for name, count in data.get("counts", {}).items():
            self.counts[name] = self.counts.get(name, 0) + count
        self.unused.update((path, entry) for path, entry in data.get("unused", []))
        self.rewritten.update(data.get("rewritten", []))
        self.partial.update((path, entry, why) for path, entry, why in data.get("partial", []))
        self.problems.extend(p for p in data.get("problems", []) if p not in self.problems)


@dataclass
class FileCandidates:
    """What one process's collection says about snapshot files, before any test ran.

    ``files`` are unused if every test of ``selected`` runs; ``not_checked`` is why no file was
    looked for at all (session-wide), ``held`` the snapshot folders not looked into, and why.
    """

    files: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    not_checked: str | None = None
    held: list[tuple[str, str]] = field(default_factory=list)
    has_snapshots: bool = False

    def to_dict(self) -> dict[str, Any]:  # plain data: travels through execnet
        return {
            "files": list(self.files),
            "selected": list(self.selected),
            "not_checked": self.not_checked,
            "held": [list(h) for h in self.held],
            "has_snapshots": self.has_snapshots,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileCandidates:
        return cls(
            files=list(data.get("files", [])),
            selected=list(data.get("selected", [])),
            not_checked=data.get("not_checked"),
            held=[(str(a), str(b)) for a, b in data.get("held", [])],
            has_snapshots=bool(data.get("has_snapshots")),
        )


class CandidateSource(Protocol):
    """Snapshot files owned by other collectors than test modules (whole-repository mode's DAG files)."""

    def has_snapshots(self) -> bool: ...

    def candidates(self, why_not_judged: Callable[[Path], str | None]) -> tuple[list[str], list[tuple[str, str]]]: ...


def _snapshot_files(folder: Path) -> list[Path]:
    """The snapshot files of one module's folder (never a directory, even one named ``x.json``)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file())


class SnapshotPlugin:
    """Registered by pytest_xcom.plugin: tracks collection, finishes tests, prints the summary."""

    def __init__(self, config: pytest.Config, *, update: bool) -> None:
        self.config = config
        self.update = update
        self.totals = Totals()
        self._modules: dict[Path, set[str]] = {}  # collected module -> names of its tests
        self._collected: set[str] = set()  # node ids of every collected test, selected or not
        self._bad: dict[Path, str] = {}  # collector path (module or folder) -> why it is not judged
        self._candidates: list[FileCandidates] = []  # this process's, and every xdist worker's
        self._ran: set[str] = set()  # node ids with a teardown report
        self._kept: str | None = None  # why found files were kept at the end
        self._is_worker = hasattr(config, "workerinput")
        self.candidate_sources: list[CandidateSource] = []

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
        self._collected.add(item.nodeid)
        if module in self._modules:
            self._modules[module].add(name)

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        report = yield
        if not report.passed and not isinstance(collector, pytest.Session):
            why = "was skipped at collection" if report.skipped else "failed to collect"
            self._bad.setdefault(Path(collector.path).resolve(), why)
        return report

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._candidates.append(self._find_candidates(session))

    def _not_checked(self, session: pytest.Session) -> str | None:
        option = self.config.option
        if getattr(option, "lf", False):
            return "--lf runs only some tests"
        if getattr(option, "pyargs", False):
            return "--pyargs"
        if getattr(option, "collectonly", False):
            return "--collect-only runs no test"
        deselected = len(self._collected - {item.nodeid for item in session.items})
        if deselected:
            return f"{deselected} test(s) deselected (-k, -m, --deselect...)"
        return None

    def _why_not_judged(self, path: Path) -> str | None:
        for where in (path, *path.parents):
            if where in self._bad:
                return f"{self.display(where)} {self._bad[where]}"
        return None

    def _find_candidates(self, session: pytest.Session) -> FileCandidates:
        found = FileCandidates(selected=sorted(item.nodeid for item in session.items))
        folders = sorted({module.parent for module in self._modules})
        found.has_snapshots = any((folder / SNAPSHOT_DIR).is_dir() for folder in folders) or any(
            source.has_snapshots() for source in self.candidate_sources
        )
        found.not_checked = self._not_checked(session)
        if found.not_checked or not found.has_snapshots:
            return found
        for source in self.candidate_sources:
            unused, held = source.candidates(self._why_not_judged)
            found.files.extend(unused)
            found.held.extend(held)
        here = self.config.invocation_params.dir
        args = [(here / arg.split("::")[0]).resolve() for arg in self.config.args]
        narrowed = {path for arg, path in zip(self.config.args, args, strict=True) if "::" in arg}
        whole = [path for arg, path in zip(self.config.args, args, strict=True) if "::" not in arg]
        for module, names in sorted(self._modules.items()):
            folder = module.parent / SNAPSHOT_DIR / module.stem
            files = _snapshot_files(folder)
            if not files:
                continue
            why = self._why_not_judged(module)
            if why is None and module in narrowed:
                why = "a node id narrowed its collection"
            if why is None and not names:
                why = "no test was collected from it (__test__ = False?)"
            if why is not None:
                found.held.append((str(folder), why))
                continue
            expected = {file_name_for(name) for name in names}
            found.files.extend(str(f) for f in files if f.name not in expected)
        for folder in folders:
            root = folder / SNAPSHOT_DIR
            if not root.is_dir():
                continue
            present = [p.name for p in folder.iterdir() if p.is_file()]
            for sub in sorted(p for p in root.iterdir() if p.is_dir()):
                if any(name.startswith(f"{sub.name}.") for name in present):
                    continue  # its module is there (collected or not): not gone
                files = _snapshot_files(sub)
                if not files:
                    continue
                why = self._why_not_judged(folder)
                if why is None and not any(path == folder or path in folder.parents for path in whole):
                    why = (
                        f"its module {sub.name} is gone, but the command line did not name "
                        f"{self.display(folder)} as a whole"
                    )
                if why is not None:
                    found.held.append((str(sub), why))
                    continue
                found.files.extend(str(f) for f in files)
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
                snapshot = XComSnapshot(path, update=self.update, display=self.display(path))
        data: dict[str, Any] = {}
        if snapshot is not None:
            unused = snapshot.finish(passed)
            if any(snapshot.counts.values()):
                data["counts"] = snapshot.counts
            if unused:
                data["unused"] = [[str(snapshot.path), entry] for entry in unused]
            if snapshot.rewritten and snapshot.counts["written"]:
                data["rewritten"] = [str(snapshot.path)]
            if snapshot.problems:
                data["problems"] = list(snapshot.problems)
            if snapshot.partial:
                data["partial"] = [[str(snapshot.path), entry, why] for entry, why in snapshot.partial]
        return data

    # the session (controller, or the only process)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        self._ran.add(report.nodeid)
        data = getattr(report, REPORT_ATTRIBUTE, None)
        if data:
            self.totals.add(data)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: a worker finished and handed over what its collection found."""
        data = (getattr(node, "workeroutput", None) or {}).get(WORKER_OUTPUT)
        if data:
            self._candidates.append(FileCandidates.from_dict(data))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._is_worker:
            if self._candidates:
                self.config.workeroutput[WORKER_OUTPUT] = self._candidates[0].to_dict()  # type: ignore[attr-defined]
            return
        files = sorted({f for c in self._candidates for f in c.files})
        if not files:
            return
        selected = {nodeid for c in self._candidates for nodeid in c.selected}
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self._kept = "the session was interrupted"
        elif not selected <= self._ran:
            missing = len(selected - self._ran)
            self._kept = f"{missing} selected test(s) did not run (-x, --maxfail, a crash...)"
        if self._kept:
            return
        for path in files:
            if self.update:
                try:
                    write_entries(Path(path), {})  # deletes it, and directories left empty
                except SnapshotError as exc:
                    reason = str(exc).replace(path, self.display(Path(path)), 1)
                    self.totals.problems.append(f"unused XCom snapshot file not deleted: {reason}")
                    continue
            self.totals.unused.add((path, ""))

    def _notes(self) -> list[str]:
        """Update mode: where unused snapshot files were not looked for, and why (none deleted)."""
        if not self.update:
            return []
        notes = []
        for reason in sorted({c.not_checked for c in self._candidates if c.not_checked and c.has_snapshots}):
            notes.append(f"Unused XCom snapshot files not looked for: {reason}; none deleted.")
        if self._kept:
            notes.append(f"Unused XCom snapshot files kept: {self._kept}; none deleted.")
        for folder, why in sorted({h for c in self._candidates for h in c.held}):
            where = self.display(Path(folder))
            notes.append(f"Unused XCom snapshot files not looked for in {where}: {why}; none deleted there.")
        return notes

    def summary_lines(self) -> list[str]:
        counts, unused = self.totals.counts, self.totals.unused
        notes = self._notes()
        if not any(counts.values()) and not unused and not notes and not self.totals.problems:
            return []
        lines = [f"{sum(counts.values())} XCom snapshot(s): " + ", ".join(f"{counts[n]} {n}" for n in COUNTS)]
        if self.totals.rewritten:
            lines.append(f"{len(self.totals.rewritten)} unreadable XCom snapshot file(s) rewritten from scratch:")
            lines.extend(f"  {self.display(Path(path))}" for path in sorted(self.totals.rewritten))
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
        for why, text in _PARTIAL.items():
            found = sorted((path, entry) for path, entry, w in self.totals.partial if w == why)
            if found:
                lines.append(f"{len(found)} XCom snapshot(s) {text}; run pytest with {UPDATE_FLAG} to rewrite them:")
                lines.extend(f"  {self.display(Path(path))} :: {entry!r}" for path, entry in found)
        lines.extend(notes)
        lines.extend(f"ERROR: {problem}" for problem in self.totals.problems)
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self._is_worker:
            return  # an xdist worker: the controller reports for every worker
        lines = self.summary_lines()
        if lines:
            terminalreporter.write_sep("=", "pytest-xcom snapshots")
            for line in lines:
                terminalreporter.write_line(line)
