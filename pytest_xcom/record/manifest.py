"""A run's XCom traffic as deterministic, JSON-ready data (what snapshots compare)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun

MANIFEST_VERSION = 1


def build_manifest(run: XComRun) -> dict[str, Any]:
    """Per task, map index and key: type, sizes, offloading, value hash and consumers.

    Run ids, dates and timings never enter it, so two runs of an unchanged DAG give equal
    manifests.
    """
    xcoms: dict[str, dict[str, dict[str, Any]]] = {}
    for push in sorted(run.effective_pushes(), key=lambda p: (p.task_id, p.map_index, p.key)):
        xcoms.setdefault(push.task_id, {}).setdefault(str(push.map_index), {})[push.key] = {
            "type": push.type_name,
            "size": push.size,
            "stored_size": push.stored_size,
            "offloaded": push.offloaded,
            "sha256": push.sha256,
            "consumers": run.readers(push),
        }
    return {
        "manifest_version": MANIFEST_VERSION,
        "dag_id": run.dag_id,
        "state": run.state,
        "backend": run.backend,
        "tasks": {task_id: run.task_states[task_id] for task_id in sorted(run.task_states)},
        "xcoms": xcoms,
    }
