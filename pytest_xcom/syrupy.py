"""Run manifests in syrupy's snapshots: ``assert run == snapshot(extension_class=XComManifestExtension)``.

For teams that already snapshot with syrupy: the run's manifest (``run.manifest()``, the same
entry ``xcom_snapshot.assert_match`` keeps) goes into syrupy's own files, one JSON file per
snapshot under ``__snapshots__/``, written and rewritten by syrupy's ``--snapshot-update`` and
listed in its summary. The comparison is pytest-xcom's (what the DAG sees always; sizes and
offloading only when the snapshot was written on the same Airflow release; never the versions
that wrote it), and a mismatch shows the same readable change list, then the JSON diff.

Needs syrupy (``pip install "pytest-xcom[syrupy]"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

try:
    from syrupy.extensions.json import JSONSnapshotExtension
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without syrupy
    raise ImportError(
        "pytest_xcom.syrupy needs syrupy, which is not installed: pip install \"pytest-xcom[syrupy]\" "
        f"(or pip install syrupy) ({exc})"
    ) from None

from pytest_xcom.errors import SnapshotError, XComTypeError
from pytest_xcom.snapshots import manifests
from pytest_xcom.snapshots.diff import comparison_notes, describe_changes
from pytest_xcom.snapshots.files import dumps

__all__ = ["XComManifestExtension"]


def _manifest(data: Any) -> dict[str, Any]:
    manifest = getattr(data, "manifest", None)
    if callable(manifest):
        found = manifest()
    elif isinstance(data, dict) and "manifest_version" in data:
        found = data
    else:
        raise XComTypeError(
            "XComManifestExtension snapshots a DAG run: compare the XComRun xcom.run() returns (or the xcom "
            f"fixture, for its last run), not {type(data).__name__}"
        )
    exact: dict[str, Any] = json.loads(json.dumps(found, sort_keys=True))  # as the file will hold it
    return exact


def _parsed(serialized: Any) -> dict[str, Any] | None:
    """A manifest from a snapshot file's text (None: no snapshot, or not a manifest)."""
    try:
        data = json.loads(str(serialized))
    except ValueError:
        return None
    return data if isinstance(data, dict) and "manifest_version" in data else None


def _unreadable(stored: dict[str, Any]) -> str | None:
    """Why a stored manifest cannot be compared (a newer pytest-xcom wrote it, ...), or None."""
    try:
        manifests.check(stored, "the stored snapshot")
    except SnapshotError as exc:
        return str(exc)
    return None


class XComManifestExtension(JSONSnapshotExtension):
    """A syrupy extension storing ``run.manifest()`` as JSON (pretty-printed, sorted keys)."""

    def serialize(self, data: Any, **_options: Any) -> str:
        # exclude/include/matcher filter syrupy's own serialization; a manifest is compared as a whole
        return dumps(_manifest(data))

    def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
        new, old = _parsed(serialized_data), _parsed(snapshot_data)
        if new is None or old is None:
            return bool(serialized_data == snapshot_data)
        if _unreadable(old) is None and manifests.matches(old, new):
            return True
        _remember_mismatch(str(serialized_data), str(snapshot_data))
        return False

    def diff_lines(self, serialized_data: Any, snapshot_data: Any) -> Iterator[str]:
        yield from change_lines(serialized_data, snapshot_data)
        yield from super().diff_lines(serialized_data, snapshot_data)


def change_lines(serialized_data: Any, snapshot_data: Any) -> list[str]:
    """The readable change list between a stored snapshot and this run's manifest (both as text)."""
    new, old = _parsed(serialized_data), _parsed(snapshot_data)
    if old is not None and (problem := _unreadable(old)) is not None:
        return [f"cannot compare with the stored snapshot: {problem}"]
    if new is None or old is None:
        return []
    changes = describe_changes(old, new) or ["(no structural change found: see the diff)"]
    return [
        "XCom manifest changes (snapshot -> this run):",
        *(f"  {line}" for line in changes),
        *(f"Note: {note}." for note in comparison_notes(old, new)),
        "Run pytest with --snapshot-update to accept this run as the new snapshot.",
        "",
    ]


# syrupy reports a mismatch with the session's default extension once the assertion is over (a
# ``snapshot(extension_class=...)`` lasts for one comparison), so the plugin's assertion hook
# explains it from here: this run's manifest text -> the snapshot text it did not match.
_MISMATCHES: dict[str, str] = {}
_KEPT = 32


def _remember_mismatch(serialized: str, stored: str) -> None:
    _MISMATCHES.pop(serialized, None)
    _MISMATCHES[serialized] = stored
    while len(_MISMATCHES) > _KEPT:
        del _MISMATCHES[next(iter(_MISMATCHES))]


def explain(left: Any, right: Any, diff_mode: Any = None) -> list[str] | None:
    """``pytest_assertrepr_compare`` for ``run == snapshot(extension_class=XComManifestExtension)``
    (either side): the change list, then syrupy's own diff. None when it is not such a mismatch."""
    from syrupy.assertion import SnapshotAssertion

    for run, snapshot in ((left, right), (right, left)):
        if not isinstance(snapshot, SnapshotAssertion) or not callable(getattr(run, "manifest", None)):
            continue
        try:
            serialized = dumps(_manifest(run))
        except Exception:
            return None
        stored = _MISMATCHES.pop(serialized, None)
        if stored is None or isinstance(snapshot.extension, XComManifestExtension):
            return None  # nothing of ours, or syrupy reports with this extension's diff_lines itself
        received = "[+ received]"
        header = f"{received} == [- {snapshot.name}]" if run is left else f"[- {snapshot.name}] == {received}"
        diff = snapshot.get_assert_diff() if diff_mode is None else snapshot.get_assert_diff(diff_mode=diff_mode)
        return [header, *change_lines(serialized, stored), *diff]
    return None
