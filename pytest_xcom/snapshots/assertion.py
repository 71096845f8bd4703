"""The ``xcom_snapshot`` fixture's object: compares run manifests with one snapshot file.

``--xcom-snapshot-update`` (ini ``xcom_snapshot_update``) writes missing entries and rewrites
changed ones; without it a missing or different entry fails the test.

A snapshot file that cannot be read (not UTF-8, not JSON, not entries) fails the test that asserts
on it; with the update flag it is rewritten from scratch. A *directory* where the file should be
always fails the test: nothing replaces or deletes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_xcom.errors import SnapshotError, XComTypeError, XComValueError
from pytest_xcom.snapshots import manifests
from pytest_xcom.snapshots.diff import mismatch_message
from pytest_xcom.snapshots.files import (
    UPDATE_FLAG,
    SnapshotIsADirectoryError,
    item_location,
    read_entries,
    snapshot_path,
    write_entries,
)

COUNTS = ("passed", "written", "updated", "failed")
PLUGIN_NAME = "xcom-snapshots"


def _unreadable(entry: Any, where: str) -> str | None:
    """Why a stored entry is no manifest this pytest-xcom can compare with (None: it is one, or absent)."""
    if entry is None:
        return None
    try:
        manifests.check(entry, where)
    except SnapshotError as exc:
        return str(exc)
    return None


def _partial_comparison(stored: dict[str, Any], manifest: dict[str, Any], storage: bool | None) -> str | None:
    """Why a passing comparison looked at less than everything: "v1" (an old format), "airflow"
    (written on another Airflow release: storage facts left out), or None."""
    if "manifest_version" not in manifest:
        return None
    if stored.get("manifest_version") == 1:
        return "v1"
    if storage is None and manifests.airflow_of(stored) != manifests.airflow_of(manifest):
        return "airflow"
    return None


def _manifest_of(run: Any) -> dict[str, Any]:
    __tracebackhide__ = True
    manifest = getattr(run, "manifest", None)
    if callable(manifest):
        data = manifest()
    elif isinstance(run, dict):
        data = run
    else:
        raise XComTypeError(f"assert_match takes an XComRun (or the xcom fixture), not {type(run).__name__}")
    exact: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True))  # exactly what the file holds
    return exact


class XComSnapshot:
    """Compares run manifests with the entries of one snapshot file (the ``xcom_snapshot`` fixture).

    Works outside pytest too: ``XComSnapshot(path, update=True).assert_match(run)``.
    """

    def __init__(self, path: Path, *, update: bool = False, display: str | None = None) -> None:
        self.path = Path(path)
        self.update = update
        self.display = display or str(path)
        self.asserted: dict[str, dict[str, Any]] = {}
        self.counts = dict.fromkeys(COUNTS, 0)
        self._auto = 0
        self._stored: dict[str, Any] | None = None
        self.rewritten = False  # unreadable, and rewritten from scratch (update mode)
        self.problems: list[str] = []  # what could not be written or deleted, for the summary
        # (entry, why) of entries that passed on less than a full comparison: "v1" or "airflow"
        self.partial: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        return f"<XComSnapshot {self.display}{' (update)' if self.update else ''}>"

    def _reason(self, exc: SnapshotError) -> str:
        """The error's sentence with the path shown as the summary shows it."""
        return str(exc).replace(str(self.path), self.display, 1)

    def _directory_message(self) -> str:
        advice = (
            f"{UPDATE_FLAG} does not replace or delete a directory: move or remove it yourself, then run again"
            if self.update
            else f"move or remove it, then run pytest with {UPDATE_FLAG} to write the snapshot"
        )
        return f"XCom snapshot path {self.display} is a directory, not a snapshot file: {advice}"

    def _entries(self) -> dict[str, Any]:
        __tracebackhide__ = True
        if self._stored is None:
            try:
                self._stored = read_entries(self.path)
            except SnapshotIsADirectoryError:
                raise AssertionError(self._directory_message()) from None
            except SnapshotError as exc:
                if not self.update:
                    raise AssertionError(
                        f"cannot read XCom snapshot file: {self._reason(exc)}; fix it, or run pytest with "
                        f"{UPDATE_FLAG} to rewrite it (its unreadable entries are then lost)"
                    ) from None
                self._stored = {}  # rewritten from scratch by the next write
                self.rewritten = True
        return self._stored

    def _write(self, entries: dict[str, Any]) -> None:
        __tracebackhide__ = True
        try:
            write_entries(self.path, entries)
        except SnapshotIsADirectoryError:
            raise AssertionError(self._directory_message()) from None
        except SnapshotError as exc:
            raise AssertionError(f"cannot write XCom snapshot file: {self._reason(exc)}") from None

    def _entry_name(self, name: str | None) -> str:
        __tracebackhide__ = True
        if name is None:
            self._auto += 1
            name = str(self._auto)
        elif not isinstance(name, str) or not name:
            raise XComTypeError(f"assert_match(name=...) must be a non-empty string, not {name!r}")
        if name in self.asserted:
            raise XComValueError(
                f"XCom snapshot {name!r} was already asserted in this test: give each assert_match call its own name="
            )
        return name

    def assert_match(self, run: Any, name: str | None = None, *, storage: bool | None = None) -> None:
        """Compare ``run.manifest()`` with the entry ``name`` (default: the next number).

        What the DAG sees is always compared. ``storage`` (sizes, offloading, the serialized
        form's hash, the backend): ``None`` compares it when the snapshot was written on the same
        Airflow release as this run, ``True`` always, ``False`` never. The version stamp is never
        compared; with the update flag an entry that matches but was written by another Airflow
        (or an older manifest format) is rewritten, so the file says who wrote it.
        """
        __tracebackhide__ = True
        entry = self._entry_name(name)
        if storage is not None and not isinstance(storage, bool):
            raise XComTypeError(f"assert_match(storage=...) must be True, False or None, not {storage!r}")
        manifest = _manifest_of(run)
        self.asserted[entry] = manifest
        try:
            stored = self._entries()
        except AssertionError:
            self.counts["failed"] += 1
            raise
        is_manifest = "manifest_version" in manifest
        problem = _unreadable(stored.get(entry), f"entry {entry!r} of {self.display}") if is_manifest else None
        if entry in stored and problem is None and manifests.matches(stored[entry], manifest, storage=storage):
            if not self.update or stored[entry] == manifest:
                self.counts["passed"] += 1
                why = _partial_comparison(stored[entry], manifest, storage)
                if why:
                    self.partial.append((entry, why))
                return
        if self.update:
            outcome = "updated" if entry in stored else "written"
            try:
                self._write({**stored, entry: manifest})
            except AssertionError:
                self.counts["failed"] += 1
                raise
            stored[entry] = manifest
            self.counts[outcome] += 1
            return
        self.counts["failed"] += 1
        if entry not in stored:
            raise AssertionError(
                f"XCom snapshot {entry!r} does not exist yet in {self.display}: run pytest with "
                f"{UPDATE_FLAG} to write it"
            )
        if problem is not None:
            raise AssertionError(
                f"cannot compare with XCom snapshot: {problem}; run pytest with {UPDATE_FLAG} to rewrite it"
            )
        raise AssertionError(mismatch_message(entry, self.display, stored[entry], manifest, storage=storage))

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
            try:
                self._write({k: v for k, v in stored.items() if k not in unused})
            except AssertionError as exc:
                self.problems.append(str(exc))
                return []
        return unused


SNAPSHOT = pytest.StashKey[XComSnapshot]()


def snapshot_for(item: pytest.Item) -> XComSnapshot:
    """The test's XComSnapshot (created on first use)."""
    if SNAPSHOT not in item.stash:
        plugin = item.config.pluginmanager.getplugin(PLUGIN_NAME)
        path = snapshot_path(*item_location(item))
        item.stash[SNAPSHOT] = XComSnapshot(path, update=plugin.update, display=plugin.display(path))
    return item.stash[SNAPSHOT]
