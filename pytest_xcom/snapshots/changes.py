"""What changed between two manifests, in words: what the DAG sees, and what only storage shows.

Shared by ``xcom_snapshot.assert_match`` (its mismatch message) and ``pytest-xcom diff``, so both
say a change the same way. Takes manifests already in the v2 shape (``manifests.normalized``) and
compares only what both record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_xcom.record.manifest import IMPLICIT, STORAGE_FIELDS
from pytest_xcom.record.rendering import preview
from pytest_xcom.snapshots.manifests import storage_comparable

SHORT = 60  # characters of a value shown on each side of "->"


@dataclass
class Changes:
    """The changes between two manifests: ``dag`` (what the DAG sees) and ``storage`` (storage only)."""

    dag: list[str] = field(default_factory=list)
    storage: list[str] = field(default_factory=list)
    storage_compared: bool = True

    def __bool__(self) -> bool:
        return bool(self.dag or self.storage)


def _index(position: str) -> tuple[int, int, str]:
    """Sort key of a manifest position: ``"2"``, or ``"2@1"`` (map index 2 in loop iteration 1)."""
    map_index, _, iteration = position.partition("@")
    number = int(map_index) if map_index.lstrip("-").isdigit() else 0
    return (int(iteration) if iteration.isdigit() else -1, number, position)


def _label(task_id: str, position: str, key: str) -> str:
    map_index, at, iteration = position.partition("@")
    return f"{task_id}{'' if map_index == '-1' else f'[{map_index}]'}{at}{iteration} {key!r}"


def _flat(manifest: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (task_id, index, key): fields
        for task_id, by_index in (manifest.get("xcoms") or {}).items()
        for index, by_key in by_index.items()
        for key, fields in by_key.items()
    }


def _short(text: Any) -> str:
    return preview(str(text), SHORT)


def _brief(fields: dict[str, Any]) -> str:
    value = f" {_short(fields['value'])}" if "value" in fields else ""
    readers = ", ".join(fields.get("consumers") or []) or "nobody"
    return f"{fields.get('type')}{value}, read by {readers}"


def compare(old: dict[str, Any], new: dict[str, Any], *, storage: bool | None = None) -> Changes:
    """Every change from ``old`` to ``new``; ``storage=None`` compares storage facts only when
    both sides come from the same Airflow release (see ``manifests.storage_comparable``)."""
    changes = Changes(storage_compared=storage_comparable(old, new) if storage is None else storage)
    for name, label in (("dag_id", "DAG id"), ("state", "DAG run state")):
        if old.get(name) != new.get(name):
            changes.dag.append(f"{label} {old.get(name)!r} -> {new.get(name)!r}")
    if changes.storage_compared and "backend" in old and "backend" in new and old["backend"] != new["backend"]:
        changes.storage.append(f"backend {old['backend']!r} -> {new['backend']!r}")
    _tasks(old, new, changes)
    _loops(old.get("loops") or {}, new.get("loops") or {}, changes)
    _xcoms(old, new, changes)
    if "pulls" in old and "pulls" in new:
        changes.dag.extend(_pulls(old["pulls"], new["pulls"]))
    return changes


def _tasks(old: dict[str, Any], new: dict[str, Any], changes: Changes) -> None:
    old_tasks, new_tasks = old.get("tasks") or {}, new.get("tasks") or {}
    old_counts, new_counts = old.get("expansions") or {}, new.get("expansions") or {}
    for task_id in sorted(set(old_tasks) | set(new_tasks)):
        before, after = old_tasks.get(task_id), new_tasks.get(task_id)
        if task_id not in new_tasks:
            changes.dag.append(f"task {task_id} vanished (was {before!r})")
            continue
        if task_id not in old_tasks:
            changes.dag.append(f"task {task_id} appeared ({after!r})")
            continue
        if task_id in old_counts and task_id in new_counts and old_counts[task_id] != new_counts[task_id]:
            changes.dag.append(f"task {task_id} expanded {old_counts[task_id]} -> {new_counts[task_id]} times")
        if isinstance(before, list) and isinstance(after, list):
            for index, (a, b) in enumerate(zip(before, after, strict=False)):
                if a != b:
                    changes.dag.append(f"task {task_id}[{index}] state {a!r} -> {b!r}")
        elif before != after:
            changes.dag.append(f"task {task_id} state {before!r} -> {after!r}")


def _loops(old: dict[str, Any], new: dict[str, Any], changes: Changes) -> None:
    """Task loops (Airflow 3.4): how many iterations ran, why they stopped, the gate's reasons."""
    for group_id in sorted(set(old) | set(new)):
        before, after = old.get(group_id), new.get(group_id)
        if before is None or after is None:
            changes.dag.append(f"task loop {group_id} {'appeared' if before is None else 'vanished'}")
            continue
        for name, label in (("iterations", "iterations"), ("stopped_by", "stopped by"), ("reasons", "reasons")):
            if before.get(name) != after.get(name):
                changes.dag.append(f"task loop {group_id} {label} {before.get(name)!r} -> {after.get(name)!r}")


def _xcoms(old: dict[str, Any], new: dict[str, Any], changes: Changes) -> None:
    old_xcoms, new_xcoms = _flat(old), _flat(new)
    for where in sorted(set(old_xcoms) | set(new_xcoms), key=lambda w: (w[0], _index(w[1]), w[2])):
        label = _label(*where)
        if where not in new_xcoms:
            changes.dag.append(f"XCom {label} vanished (was {_brief(old_xcoms[where])})")
        elif where not in old_xcoms:
            changes.dag.append(f"XCom {label} appeared ({_brief(new_xcoms[where])})")
        else:
            seen, stored = _xcom(old_xcoms[where], new_xcoms[where], changes.storage_compared)
            if seen:
                changes.dag.append(f"XCom {label}: {'; '.join(seen)}")
            if stored:
                changes.storage.append(f"XCom {label}: {', '.join(stored)}")


def _xcom(before: dict[str, Any], after: dict[str, Any], storage: bool) -> tuple[list[str], list[str]]:
    seen: list[str] = []
    if before.get("type") != after.get("type"):
        seen.append(f"pushed type {before.get('type')} -> {after.get('type')}")
    has_values = "value_sha256" in before and "value_sha256" in after
    received = (before.get("value_type"), after.get("value_type"))
    if has_values and received[0] != received[1] and received != (before.get("type"), after.get("type")):
        seen.append(f"readers receive {before['value_type']} -> {after['value_type']}")
    if has_values and before["value_sha256"] != after["value_sha256"]:
        if before["value"] == after["value"]:
            seen.append("value changed beyond the part a snapshot keeps (its hash differs)")
        else:
            seen.append(f"value {_short(before['value'])} -> {_short(after['value'])}")
    old_readers, new_readers = set(before.get("consumers") or []), set(after.get("consumers") or [])
    if old_readers != new_readers:
        parts = []
        if new_readers - old_readers:
            parts.append(f"readers gained {', '.join(sorted(new_readers - old_readers))}")
        if old_readers - new_readers:
            parts.append(f"readers lost {', '.join(sorted(old_readers - new_readers))}")
        seen.append(", ".join(parts))
    if not has_values and before.get("sha256") != after.get("sha256"):
        # a v1 side keeps no value rendering: the serialized form's hash is all that tells values apart
        seen.append("value changed (the hash of its serialized form differs; a v1 snapshot keeps no value)")
    stored: list[str] = []
    if storage:
        for name in STORAGE_FIELDS:
            a, b = before.get(name), after.get(name)
            if a == b or (name == "sha256" and (not has_values or before["value_sha256"] != after["value_sha256"])):
                continue  # a changed value changes its serialized form too: only news when the value did not
            stored.append("serialized form changed (sha256 differs)" if name == "sha256" else f"{name} {a!r} -> {b!r}")
    return seen, stored


def _found(found: set[bool]) -> str:
    if found == {True}:
        return "found a value"
    if found == {False}:
        return "found nothing"
    return "found a value on some reads, nothing on others"


def _pull_groups(pulls: dict[str, list[dict[str, Any]]]) -> dict[tuple[Any, ...], set[tuple[str, bool]]]:
    """Reads grouped by what identifies them; a read without task_ids is one read whatever it found."""
    groups: dict[tuple[Any, ...], set[tuple[str, bool]]] = {}
    for reader, entries in pulls.items():
        for entry in entries:
            implicit = entry.get("via") == IMPLICIT
            source = "" if implicit else entry.get("source", "")
            extra = (entry.get("dag", ""), bool(entry.get("include_prior_dates")))
            key = (reader, entry.get("via", ""), entry.get("key", ""), source, *extra)
            groups.setdefault(key, set()).add((entry.get("source", ""), bool(entry.get("found"))))
    return groups


def _describe_read(key: tuple[Any, ...]) -> str:
    reader, via, xcom_key, source, dag, prior = key
    where = f" of DAG {dag}" if dag else ""
    prior_text = ", include_prior_dates" if prior else ""
    if via == IMPLICIT:
        return f"{reader}: xcom_pull(key={xcom_key!r}{prior_text}) without task_ids{where}"
    return f"{reader} reads {source}{where} {xcom_key!r} ({via}{prior_text})"  # via: argument / xcom_pull


def _outcome(reads: set[tuple[str, bool]], implicit: bool) -> str:
    if not implicit:
        return _found({found for _, found in reads})
    parts = []
    for found in (True, False):
        sources = sorted(source for source, f in reads if f is found)
        if sources:
            place = "in" if found else "looked in"
            parts.append(f"{_found({found})} ({place} {', '.join(sources)})")
    return "; ".join(parts)


def _pulls(old: dict[str, list[dict[str, Any]]], new: dict[str, list[dict[str, Any]]]) -> list[str]:
    before, after = _pull_groups(old), _pull_groups(new)
    lines = []
    for key in sorted(set(before) | set(after)):
        implicit = key[1] == IMPLICIT
        what = _describe_read(key)
        if key not in after:
            lines.append(f"read gone: {what}: {_outcome(before[key], implicit)}")
        elif key not in before:
            lines.append(f"new read: {what}: {_outcome(after[key], implicit)}")
        elif before[key] != after[key]:
            lines.append(f"{what}: {_outcome(before[key], implicit)} -> {_outcome(after[key], implicit)}")
    return lines
