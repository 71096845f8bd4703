"""``pytest-xcom diff OLD NEW``: two sets of snapshots (directories or files), paired and compared.

Directories are walked for snapshot files (only those under ``__xcom_snapshots__`` folders when
there are any, every ``*.json`` otherwise); files pair by their path relative to OLD and NEW,
entries by name. Two files pair entry by entry. Storage facts are always compared here, and
reported apart: only a change in what the DAG sees makes the diff fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_xcom.errors import SnapshotError
from pytest_xcom.snapshots import manifests
from pytest_xcom.snapshots.changes import Changes, compare
from pytest_xcom.snapshots.files import SNAPSHOT_DIR, read_entries

Where = tuple[str, str]  # (file relative to its side's root, entry name)


@dataclass
class Side:
    """One side of the diff: where it was read from and its entries."""

    given: str
    entries: dict[Where, dict[str, Any]]
    files: int

    def airflow_versions(self) -> list[str]:
        """Every Airflow release that wrote an entry ("unknown (manifest v1)" for v1 ones)."""
        found = {manifests.airflow_of(m) or "unknown (manifest v1)" for m in self.entries.values()}
        return sorted(found)

    def describe(self) -> str:
        versions = self.airflow_versions()
        airflow = f"Airflow {', '.join(versions)}" if versions else "no entries"
        count = len(self.entries)
        return f"{self.given} ({count} snapshot entr{'y' if count == 1 else 'ies'} in {self.files} file(s); {airflow})"


@dataclass
class EntryDiff:
    where: Where
    dag_id: str
    changes: Changes
    notes: list[str] = field(default_factory=list)


@dataclass
class DiffReport:
    old: Side
    new: Side
    changed: list[EntryDiff] = field(default_factory=list)
    unchanged: int = 0
    only_old: list[Where] = field(default_factory=list)
    only_new: list[Where] = field(default_factory=list)

    @property
    def dag_changed(self) -> bool:
        return any(d.changes.dag for d in self.changed)

    def summary(self) -> str:
        dag = sum(1 for d in self.changed if d.changes.dag)
        storage = len(self.changed) - dag
        return (
            f"{dag} snapshot entr{'y' if dag == 1 else 'ies'} changed in what the DAG sees, {storage} only in storage, "
            f"{self.unchanged} unchanged; {len(self.only_old)} only in old, {len(self.only_new)} only in new"
        )


def label(where: Where) -> str:
    file, entry = where
    return f"{file} :: {entry!r}" if file else repr(entry)


def _snapshot_files(root: Path) -> list[Path]:
    found = sorted(p for p in root.rglob("*.json") if p.is_file() and not _hidden(p.relative_to(root)))
    under_snapshot_dirs = [p for p in found if SNAPSHOT_DIR in p.relative_to(root).parts[:-1]]
    if root.name == SNAPSHOT_DIR or not under_snapshot_dirs:
        return found
    return under_snapshot_dirs


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts[:-1])


def _read(path: Path, shown: str) -> dict[str, dict[str, Any]]:
    entries = read_entries(path)
    for name, entry in entries.items():
        manifests.check(entry, f"{shown}: entry {name!r}")
    return entries


def load_side(given: str, *, as_file: bool) -> Side:
    """The entries at ``given`` (a directory, or a file when ``as_file``); a SnapshotError says what is wrong."""
    path = Path(given).expanduser()
    if as_file:
        return Side(given, {("", name): e for name, e in _read(path, given).items()}, 1)
    files = _snapshot_files(path)
    if not files:
        raise SnapshotError(f"{given} holds no snapshot files (*.json): is it the right directory?")
    entries: dict[Where, dict[str, Any]] = {}
    for file in files:
        relative = file.relative_to(path)
        # paired without the __xcom_snapshots__ folders, so `tests` and `tests/__xcom_snapshots__` match
        paired = "/".join(part for part in relative.parts if part != SNAPSHOT_DIR)
        for name, entry in _read(file, str(Path(given) / relative)).items():
            entries[(paired, name)] = entry
    return Side(given, entries, len(files))


def diff_paths(old: str, new: str) -> DiffReport:
    """Compare the snapshots at ``old`` and ``new`` (both directories or both files)."""
    old_path, new_path = Path(old).expanduser(), Path(new).expanduser()
    for given, path in ((old, old_path), (new, new_path)):
        if not path.exists():
            raise SnapshotError(
                f"{given} does not exist: give a snapshot directory (e.g. tests/__xcom_snapshots__) or file"
            )
    if old_path.is_dir() != new_path.is_dir():
        sides = ((old, old_path), (new, new_path))
        kinds = ", ".join(f"{g} is a {'directory' if p.is_dir() else 'file'}" for g, p in sides)
        raise SnapshotError(f"OLD and NEW must both be directories or both be files ({kinds})")
    as_file = not old_path.is_dir()
    report = DiffReport(load_side(old, as_file=as_file), load_side(new, as_file=as_file))
    before, after = report.old.entries, report.new.entries
    report.only_old = sorted(set(before) - set(after))
    report.only_new = sorted(set(after) - set(before))
    for where in sorted(set(before) & set(after)):
        old_manifest, new_manifest = manifests.normalized(before[where]), manifests.normalized(after[where])
        changes = compare(old_manifest, new_manifest, storage=True)
        if not changes:
            report.unchanged += 1
            continue
        notes = [
            f"{side} side is manifest v1 (an older pytest-xcom): compared on what v1 records (no values, no pulls)"
            for side, manifest in (("old", before[where]), ("new", after[where]))
            if manifest.get("manifest_version") == 1
        ]
        dag_id = str(new_manifest.get("dag_id") or old_manifest.get("dag_id") or "?")
        report.changed.append(EntryDiff(where, dag_id, changes, notes))
    return report


def render_text(report: DiffReport) -> str:
    """The diff as the terminal shows it."""
    lines = ["pytest-xcom diff", f"  old: {report.old.describe()}", f"  new: {report.new.describe()}"]
    for entry in report.changed:
        lines += ["", f"{label(entry.where)} (DAG {entry.dag_id}):"]
        for note in entry.notes:
            lines.append(f"  note: {note}")
        if entry.changes.dag:
            lines += ["  what the DAG sees:", *(f"    {line}" for line in entry.changes.dag)]
        if entry.changes.storage:
            lines += ["  storage only:", *(f"    {line}" for line in entry.changes.storage)]
    for title, wheres in (("Only in old", report.only_old), ("Only in new", report.only_new)):
        if wheres:
            lines += ["", f"{title} ({len(wheres)}):", *(f"  {label(w)}" for w in wheres)]
    lines += ["", report.summary()]
    return "\n".join(lines)
