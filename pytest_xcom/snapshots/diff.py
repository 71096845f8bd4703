"""The mismatch message of ``assert_match``: the changes in words, then the unified diff of the JSON."""

from __future__ import annotations

import difflib
from typing import Any

from pytest_xcom.snapshots.changes import compare
from pytest_xcom.snapshots.files import UPDATE_FLAG, dumps
from pytest_xcom.snapshots.manifests import airflow_of, normalized

MAX_DIFF_LINES = 200


def describe_changes(old: dict[str, Any], new: dict[str, Any], *, storage: bool | None = None) -> list[str]:
    """One line per change between two manifests: what the DAG sees, then storage only."""
    changes = compare(normalized(old), normalized(new), storage=storage)
    return [*changes.dag, *(f"storage only: {line}" for line in changes.storage)]


def comparison_notes(old: dict[str, Any], new: dict[str, Any], *, storage: bool | None = None) -> list[str]:
    """What a comparison of ``old`` (the snapshot) with ``new`` (this run) left out, and why."""
    notes = []
    if old.get("manifest_version") == 1:
        notes.append(
            "the snapshot is manifest v1 (an older pytest-xcom): compared on what v1 records (no values, no "
            f"pulls); {UPDATE_FLAG} rewrites it as v2"
        )
    else:
        before, after = airflow_of(old), airflow_of(new)
        if storage is None and before != after:
            notes.append(
                f"the snapshot was written on Airflow {before or 'unknown'}, "
                f"this run is on Airflow {after or 'unknown'}: "
                "storage facts (sizes, offloading, serialized hash, backend) are not compared; "
                "assert_match(run, storage=True) compares them"
            )
    return notes


def mismatch_message(
    name: str, display: str, old: dict[str, Any], new: dict[str, Any], *, storage: bool | None = None
) -> str:
    changes = describe_changes(old, new, storage=storage) or ["(no structural change found: see the diff)"]
    notes = comparison_notes(old, new, storage=storage)
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
            *(f"Note: {note}." for note in notes),
            f"Run pytest with {UPDATE_FLAG} to accept this run as the new snapshot.",
            "",
            *diff,
        ]
    )
