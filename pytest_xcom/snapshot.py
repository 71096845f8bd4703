"""XCom snapshots: ``run.manifest()`` kept as JSON beside the test module, compared or updated.

Layout: ``<test dir>/__xcom_snapshots__/<module stem>/<test name>.json``, one file per test.
A test in a class is ``TestClass.test_name``; a name with characters outside
``[A-Za-z0-9_.,=+[]-]`` (or longer than 150 characters) has them replaced by ``_`` and gets
``-<8 hex of the real name's sha1>``, so two tests never share a file. The file maps entry
names to manifests: ``"1"``, ``"2"``... for the unnamed ``assert_match`` calls of the test, in
order, or the ``name=`` given. JSON with two-space indents, sorted keys and a trailing newline.

``--xcom-snapshot-update`` (ini ``xcom_snapshot_update``) writes missing entries and rewrites
changed ones; without it a missing or different entry fails the test.

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

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

SNAPSHOT_DIR = "__xcom_snapshots__"
REPORT_ATTRIBUTE = "xcom_snapshots"  # set on teardown reports; survives xdist's report transport
PLUGIN_NAME = "xcom-snapshots"
UPDATE_FLAG = "--xcom-snapshot-update"
COUNTS = ("passed", "written", "updated", "failed")
MAX_DIFF_LINES = 200
FIELDS = ("type", "size", "stored_size", "offloaded", "sha256", "consumers")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+\[\]-]")


class SnapshotFileError(ValueError):
    """A snapshot file exists but is not a JSON object of entries."""


# -- files --------------------------------------------------------------------------------------


def file_name_for(test_name: str) -> str:
    """``TestClass::test_x[id]`` -> ``TestClass.test_x[id].json``, safe on every filesystem."""
    plain = test_name.replace("::", ".")
    safe = _UNSAFE.sub("_", plain)
    if safe != plain or len(safe) > 150:
        safe = f"{safe[:150]}-{hashlib.sha1(test_name.encode('utf-8')).hexdigest()[:8]}"
    return safe + ".json"


def snapshot_path(module: Path, test_name: str) -> Path:
    return module.parent / SNAPSHOT_DIR / module.stem / file_name_for(test_name)


def item_location(item: pytest.Item) -> tuple[Path, str]:
    """(module file, test name inside it) of a test item."""
    return Path(item.path).resolve(), item.nodeid.split("::", 1)[-1]


def dumps(entries: dict[str, Any]) -> str:
    return json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def read_entries(path: Path) -> dict[str, Any]:
    """The entries of a snapshot file ({} when there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SnapshotFileError(f"{path} is not JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SnapshotFileError(f"{path} is not a JSON object of snapshot entries")
    return data


def write_entries(path: Path, entries: dict[str, Any]) -> None:
    """Write the file, or delete it (and directories it leaves empty) when no entry is left."""
    if entries:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(entries), encoding="utf-8")
        return
    path.unlink(missing_ok=True)
    for folder in (path.parent, path.parent.parent):
        try:
            folder.rmdir()
        except OSError:
            break  # not empty (or already gone)


# -- diffs ----------------------------------------------------------------------------------------


def _index(map_index: str) -> tuple[int, str]:
    return (int(map_index), map_index) if map_index.lstrip("-").isdigit() else (0, map_index)


def _label(task_id: str, map_index: str, key: str) -> str:
    return f"{task_id}{'' if map_index == '-1' else f'[{map_index}]'} {key!r}"


def _flat(manifest: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (task_id, index, key): fields
        for task_id, by_index in (manifest.get("xcoms") or {}).items()
        for index, by_key in by_index.items()
        for key, fields in by_key.items()
    }


def _brief(fields: dict[str, Any]) -> str:
    offloaded = ", offloaded" if fields.get("offloaded") else ""
    return f"{fields.get('type')}, {fields.get('size')} B{offloaded}, consumers {fields.get('consumers')}"


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per change between two manifests: per task, map index and key."""
    lines = []
    for name in sorted((set(old) | set(new)) - {"tasks", "xcoms"}):
        if old.get(name) != new.get(name):
            label = "DAG run state" if name == "state" else name
            lines.append(f"{label} changed: {old.get(name)!r} -> {new.get(name)!r}")
    old_tasks, new_tasks = old.get("tasks") or {}, new.get("tasks") or {}
    for task_id in sorted(set(old_tasks) | set(new_tasks)):
        before, after = old_tasks.get(task_id), new_tasks.get(task_id)
        if task_id not in new_tasks:
            lines.append(f"removed task {task_id} (state {before!r})")
        elif task_id not in old_tasks:
            lines.append(f"added task {task_id} (state {after!r})")
        elif isinstance(before, list) and isinstance(after, list):
            if len(before) != len(after):
                new_states = sorted({str(state) for state in after[len(before) :]})
                states = "" if new_states in ([], ["success"]) else f" (new: {', '.join(new_states)})"
                lines.append(f"task {task_id} expanded {len(before)} -> {len(after)} times{states}")
            for index, (a, b) in enumerate(zip(before, after)):
                if a != b:
                    lines.append(f"task state changed: {task_id}[{index}] {a!r} -> {b!r}")
        elif before != after:
            lines.append(f"task state changed: {task_id} {before!r} -> {after!r}")
    old_xcoms, new_xcoms = _flat(old), _flat(new)
    for where in sorted(set(old_xcoms) | set(new_xcoms), key=lambda w: (w[0], _index(w[1]), w[2])):
        label = _label(*where)
        if where not in new_xcoms:
            lines.append(f"removed XCom {label} ({_brief(old_xcoms[where])})")
            continue
        if where not in old_xcoms:
            lines.append(f"added XCom {label} ({_brief(new_xcoms[where])})")
            continue
        before_fields, after_fields = old_xcoms[where], new_xcoms[where]
        names = [*FIELDS, *sorted((set(before_fields) | set(after_fields)) - set(FIELDS))]
        changes = []
        for name in names:
            a, b = before_fields.get(name), after_fields.get(name)
            if a == b:
                continue
            changes.append("value changed (sha256 differs)" if name == "sha256" else f"{name} {a!r} -> {b!r}")
        if changes:
            lines.append(f"{label}: {', '.join(changes)}")
    return lines


def mismatch_message(name: str, display: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    changes = describe_changes(old, new) or ["(no structural change found: see the diff)"]
    diff = list(
        difflib.unified_diff(
            dumps(old).splitlines(), dumps(new).splitlines(), f"snapshot {name!r}", "this run", lineterm=""
        )
    )
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... {len(diff) - MAX_DIFF_LINES} more diff line(s)"]
    return "\n".join(
        [
            f"XCom snapshot {name!r} does not match {display}:",
            *(f"  {line}" for line in changes),
            f"Run pytest with {UPDATE_FLAG} to accept this run as the new snapshot.",
            "",
            *diff,
        ]
    )


# -- the fixture object -----------------------------------------------------------------------------


def _manifest_of(run: Any) -> dict[str, Any]:
    __tracebackhide__ = True
    manifest = getattr(run, "manifest", None)
    if callable(manifest):
        data = manifest()
    elif isinstance(run, dict):
        data = run
    else:
        raise TypeError(f"assert_match takes an XComRun (or the xcom fixture), not {type(run).__name__}")
    return json.loads(json.dumps(data, sort_keys=True))  # exactly what the file holds


class XComSnapshot:
    """Compares run manifests with the entries of one snapshot file (the ``xcom_snapshot`` fixture).

    Works outside pytest too: ``XComSnapshot(path, update=True).assert_match(run)``.
    """

    def __init__(self, path: Path, *, update: bool = False, display: Optional[str] = None) -> None:
        self.path = Path(path)
        self.update = update
        self.display = display or str(path)
        self.asserted: dict[str, dict[str, Any]] = {}
        self.counts = dict.fromkeys(COUNTS, 0)
        self._auto = 0
        self._stored: Optional[dict[str, Any]] = None

    def __repr__(self) -> str:
        return f"<XComSnapshot {self.display}{' (update)' if self.update else ''}>"

    def _entries(self) -> dict[str, Any]:
        __tracebackhide__ = True
        if self._stored is None:
            try:
                self._stored = read_entries(self.path)
            except SnapshotFileError as exc:
                if not self.update:
                    raise AssertionError(
                        f"cannot read XCom snapshot file: {exc}; fix it, or delete it and run pytest "
                        f"with {UPDATE_FLAG}"
                    ) from None
                self._stored = {}  # rewritten from scratch
        return self._stored

    def _entry_name(self, name: Optional[str]) -> str:
        __tracebackhide__ = True
        if name is None:
            self._auto += 1
            name = str(self._auto)
        elif not isinstance(name, str) or not name:
            raise TypeError(f"assert_match(name=...) must be a non-empty string, not {name!r}")
        if name in self.asserted:
            raise ValueError(
                f"XCom snapshot {name!r} was already asserted in this test: give each "
                "assert_match call its own name="
            )
        return name

    def assert_match(self, run: Any, name: Optional[str] = None) -> None:
        """Compare ``run.manifest()`` with the entry ``name`` (default: the next number)."""
        __tracebackhide__ = True
        entry = self._entry_name(name)
        manifest = _manifest_of(run)
        self.asserted[entry] = manifest
        try:
            stored = self._entries()
        except AssertionError:
            self.counts["failed"] += 1
            raise
        if stored.get(entry) == manifest:
            self.counts["passed"] += 1
            return
        if self.update:
            self.counts["updated" if entry in stored else "written"] += 1
            stored[entry] = manifest
            write_entries(self.path, stored)
            return
        self.counts["failed"] += 1
        if entry not in stored:
            raise AssertionError(
                f"XCom snapshot {entry!r} does not exist yet in {self.display}: run pytest with "
                f"{UPDATE_FLAG} to write it"
            )
        raise AssertionError(mismatch_message(entry, self.display, stored[entry], manifest))

    def finish(self, passed: bool) -> list[str]:
        """After the test: the entries it did not assert (deleted when updating), if it passed."""
        if not passed:
            return []
        try:
            stored = self._entries()
        except AssertionError:
            return []  # unreadable: its test already failed on it
        unused = sorted(set(stored) - set(self.asserted))
        if unused and self.update:
            write_entries(self.path, {k: v for k, v in stored.items() if k not in unused})
        return unused


SNAPSHOT = pytest.StashKey[XComSnapshot]()
_PASSED = pytest.StashKey[bool]()


def snapshot_for(item: pytest.Item) -> XComSnapshot:
    """The test's XComSnapshot (created on first use)."""
    if SNAPSHOT not in item.stash:
        plugin: SnapshotPlugin = item.config.pluginmanager.getplugin(PLUGIN_NAME)
        path = snapshot_path(*item_location(item))
        item.stash[SNAPSHOT] = XComSnapshot(path, update=plugin.update, display=plugin.display(path))
    return item.stash[SNAPSHOT]


# -- the session ------------------------------------------------------------------------------------


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
