"""What changed between two manifests, said per task, map index and key, and the mismatch message."""

from __future__ import annotations

import difflib
from typing import Any

from pytest_xcom.snapshots.files import UPDATE_FLAG, dumps

MAX_DIFF_LINES = 200
FIELDS = ("type", "size", "stored_size", "offloaded", "sha256", "consumers")


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
            for index, (a, b) in enumerate(zip(before, after, strict=False)):
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
