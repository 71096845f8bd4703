"""A run's XCom traffic as deterministic, JSON-ready data (what snapshots compare).

Manifest v2 tells apart what the DAG sees (keys, the value as readers receive it, readers,
expansions, pulls found or missed) from what only storage shows (``STORAGE_FIELDS`` of each XCom:
serialized size, stored size, offloading, hash of the serialized form), and records which Airflow
and pytest-xcom wrote it (``written_by``), so a snapshot stays comparable across Airflow versions
whose serializers wrap the same value differently. The v1 fields keep their names and places.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_xcom.record.rendering import value_facts
from pytest_xcom.version import __version__

if TYPE_CHECKING:
    from pytest_xcom.record.events import XComPull
    from pytest_xcom.record.run import XComRun

MANIFEST_VERSION = 2
STORAGE_FIELDS = ("size", "stored_size", "offloaded", "sha256")
IMPLICIT = "xcom_pull without task_ids"


def build_manifest(run: XComRun) -> dict[str, Any]:
    """Per task, map index and key: what readers receive, who read it, and how it was stored.

    Run ids, dates and timings never enter it, so two runs of an unchanged DAG give equal
    manifests.
    """
    xcoms: dict[str, dict[str, dict[str, Any]]] = {}
    for push in sorted(run.effective_pushes(), key=lambda p: (p.task_id, p.iteration or 0, p.map_index, p.key)):
        xcoms.setdefault(push.task_id, {}).setdefault(position(push.map_index, push.iteration), {})[push.key] = {
            "type": push.type_name,
            **value_facts(push.value, push.value_error),
            "consumers": run.readers(push),
            # storage only (see STORAGE_FIELDS): how the value was stored, not what readers get
            "size": push.size,
            "stored_size": push.stored_size,
            "offloaded": push.offloaded,
            "sha256": push.sha256,
        }
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "written_by": {"airflow": run.airflow_version or "unknown", "pytest_xcom": __version__},
        "dag_id": run.dag_id,
        "state": run.state,
        "backend": run.backend,
        "tasks": {task_id: run.task_states[task_id] for task_id in sorted(run.task_states)},
        "expansions": {
            task_id: _expansion_count(states, looped=run.loop_of(task_id) is not None)
            for task_id, states in sorted(run.task_states.items())
            if task_id in run.mapped_task_ids
        },
        "xcoms": xcoms,
        "pulls": _pulls(run),
    }
    if run.loops:  # only where there are task loops: other manifests keep their v2 shape exactly
        manifest["loops"] = {group_id: _loop_entry(run, group_id) for group_id in sorted(run.loops)}
    return manifest


def position(map_index: int | None, iteration: int | None) -> str:
    """An XCom's place under its task in a manifest: the map index, with ``@<iteration>`` in a loop."""
    index = "-1" if map_index is None else str(map_index)
    return index if iteration is None else f"{index}@{iteration}"


def _expansion_count(states: Any, *, looped: bool) -> Any:
    """How many instances a mapped task expanded into; inside a loop, a count per iteration."""
    if not isinstance(states, list):
        return 0
    if looped:
        return [len(per_iteration) if isinstance(per_iteration, list) else 0 for per_iteration in states]
    return len(states)


def _loop_entry(run: XComRun, group_id: str) -> dict[str, Any]:
    loop = run.loop(group_id)
    return {
        "iterations": loop.count,
        "max_iterations": loop.max_iterations,
        "gate_states": loop.states,
        "reasons": loop.reasons,
        "stopped_by": loop.stopped_by,
    }


def pull_entry(pull: XComPull, dag_id: str) -> dict[str, Any]:
    """One read as a manifest lists it: source, key, how it was asked for, and whether it found a value."""
    entry: dict[str, Any] = {
        "source": pull.source,
        "key": pull.key,
        "via": "argument" if pull.kind == "argument" else "xcom_pull" if pull.task_ids_explicit else IMPLICIT,
        "found": pull.found,
    }
    if pull.source_dag_id and pull.source_dag_id != dag_id:
        entry["dag"] = pull.source_dag_id
    if pull.include_prior_dates:
        entry["include_prior_dates"] = True
    if pull.received_reference is not None:  # the backend handed over its reference, not the value
        entry["received"] = "the stored reference"
    if pull.previous_iteration:  # loop.previous: the iteration before the reader's
        entry["previous_iteration"] = True
    return entry


def _pulls(run: XComRun) -> dict[str, list[dict[str, Any]]]:
    """Per reader (``task`` / ``task[i]``): its distinct reads, sorted (retries read the same once)."""
    by_reader: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for pull in run.pulls:
        entry = pull_entry(pull, run.dag_id)
        key = tuple(sorted(entry.items()))
        by_reader.setdefault(pull.instance, {})[key] = entry
    return {reader: [entries[k] for k in sorted(entries)] for reader, entries in sorted(by_reader.items())}
