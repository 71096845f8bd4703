"""Manifests as snapshots hold them: checking, reading v1 as v2, and what a comparison looks at.

Manifest v1 (pytest-xcom before the Airflow-version stamp) kept, per XCom, the pushed type, the
storage facts and the consumers, with no value rendering, no pulls and no version stamp. It is
read as a v2 manifest without those parts, and compared on the parts both have.

What a comparison looks at (``assert_match`` and ``pytest-xcom diff`` alike): everything the DAG
sees, always; the storage facts (sizes, offloading, hash of the serialized form, the backend's
name) only when both sides were written by the same Airflow release (or one side is v1, whose
only value fingerprint is the storage hash), unless the caller says otherwise.
"""

from __future__ import annotations

import copy
from typing import Any

from pytest_xcom.errors import SnapshotError
from pytest_xcom.record.manifest import MANIFEST_VERSION, STORAGE_FIELDS

KNOWN_VERSIONS = (1, MANIFEST_VERSION)
VALUE_FIELDS = ("value", "value_type", "value_sha256")  # v2 only
STAMP = ("manifest_version", "written_by")  # who wrote it: never compared


def check(entry: Any, where: str) -> None:
    """A :class:`SnapshotError` saying what is wrong when ``entry`` is not a manifest pytest-xcom can read."""
    if not isinstance(entry, dict) or "manifest_version" not in entry:
        raise SnapshotError(f"{where} is not an XCom snapshot entry (no manifest_version)")
    version = entry["manifest_version"]
    if version not in KNOWN_VERSIONS:
        if isinstance(version, int) and version > MANIFEST_VERSION:
            raise SnapshotError(
                f"{where} is manifest v{version}, written by a newer pytest-xcom: upgrade pytest-xcom to read it"
            )
        raise SnapshotError(f"{where} has an unknown manifest_version {version!r}")
    for part in ("tasks", "xcoms"):
        if not isinstance(entry.get(part), dict):
            raise SnapshotError(f"{where} is not an XCom snapshot entry ({part!r} is missing or not an object)")


def airflow_of(manifest: dict[str, Any]) -> str | None:
    """The Airflow release that wrote the manifest (None: v1, which does not say)."""
    written_by = manifest.get("written_by")
    version = written_by.get("airflow") if isinstance(written_by, dict) else None
    return version if isinstance(version, str) and version != "unknown" else None


def normalized(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` in the v2 shape (a copy); a v1 manifest lacks the parts v1 did not record."""
    data = copy.deepcopy(manifest)
    if data.get("manifest_version") != 1:
        return data
    # v1 kept the states of a mapped task as a list, one per map index: that is its expansion count.
    data["expansions"] = {t: len(s) for t, s in data.get("tasks", {}).items() if isinstance(s, list)}
    return data


def storage_comparable(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether storage facts mean anything side by side: same Airflow, or a v1 side (see the module doc)."""
    if 1 in (old.get("manifest_version"), new.get("manifest_version")):
        return True
    before, after = airflow_of(old), airflow_of(new)
    return before is not None and before == after


def comparable(manifest: dict[str, Any], other: dict[str, Any], *, storage: bool) -> dict[str, Any]:
    """The part of normalized ``manifest`` that is compared with normalized ``other``.

    Only the parts both record (a v1 side has no values and no pulls); the storage facts only
    when ``storage`` (with a v1 side, the serialized hash always: it stands in for the value).
    The version stamp never.
    """
    data = {k: v for k, v in manifest.items() if k not in STAMP and (k in other or k in ("tasks", "xcoms"))}
    if not storage:
        data.pop("backend", None)
    v1 = 1 in (manifest.get("manifest_version"), other.get("manifest_version"))
    xcoms: dict[str, Any] = {}
    for task_id, by_index in (manifest.get("xcoms") or {}).items():
        for index, by_key in by_index.items():
            for key, fields in by_key.items():
                kept = {name: value for name, value in fields.items() if not (v1 and name in VALUE_FIELDS)}
                for name in STORAGE_FIELDS:
                    # v1 has no value rendering: its serialized hash is the value's only fingerprint
                    if not storage and not (v1 and name == "sha256"):
                        kept.pop(name, None)
                xcoms.setdefault(task_id, {}).setdefault(index, {})[key] = kept
    data["xcoms"] = xcoms
    return data


def matches(stored: dict[str, Any], manifest: dict[str, Any], *, storage: bool | None = None) -> bool:
    """Whether ``manifest`` (this run) matches ``stored`` (the snapshot) on what a comparison looks at."""
    if "manifest_version" not in manifest:
        return stored == manifest  # a plain dict given to assert_match: compared exactly
    old, new = normalized(stored), normalized(manifest)
    compared = storage_comparable(old, new) if storage is None else storage
    return comparable(old, new, storage=compared) == comparable(new, old, storage=compared)
