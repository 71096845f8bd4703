"""Where a DAG's snapshot lives in whole-repository mode, and which DAG snapshots are unused.

Layout: ``<xcom_dags_snapshots>/<DAG file relative to the rootdir>/<dag_id>.json``, e.g.
``__xcom_snapshots__/dags/dags/etl/orders.py/etl_orders.json`` for the item
``dags/etl/orders.py::etl_orders``: the item's id with ``::`` as a folder separator. A DAG file
outside the rootdir has each ``..`` of its relative path written as ``_parent_``.

Unused snapshots follow the rules of test snapshots (``snapshots/session.py``), with DAG files in
the place of test modules: a snapshot is only judged unused on evidence from this session.

- A file's snapshot folder is judged when the file was collected in full (no node id narrowed
  it) and imported without error: a snapshot of a DAG id the file no longer defines is unused.
- The snapshot folder of a DAG file Airflow no longer lists (deleted, renamed, now ignored) is
  unused when its DAG folder was collected as a whole (``--xcom-dags dags`` with no narrower path).
- Never when anything was deselected or did not run (``-k``, ``--lf``, pytest-split's groups,
  ``-x``...): a DAG that was not collected, or was deselected, keeps its file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_xcom.options import option
from pytest_xcom.repository.loading import Collection, DagRepository
from pytest_xcom.snapshots.files import SNAPSHOT_DIR, file_name_for

DEFAULT_ROOT = f"{SNAPSHOT_DIR}/dags"


def snapshot_root(config: pytest.Config) -> Path:
    """``--xcom-dags-snapshots`` / ``xcom_dags_snapshots``, relative to the rootdir."""
    return (config.rootpath / (option(config, "xcom_dags_snapshots") or DEFAULT_ROOT)).resolve()


class DagSnapshots:
    """The snapshot files of whole-repository mode, and which of them this session found unused."""

    def __init__(self, root: Path, rootdir: Path, repository: DagRepository, collection: Collection) -> None:
        self.root = root
        self.rootdir = rootdir
        self.repository = repository
        self.collection = collection

    def folder_of(self, path: Path) -> Path:
        """The snapshot folder of the DAG file (or DAG folder) at ``path``."""
        relative = Path(os.path.relpath(Path(path).resolve(), self.rootdir.resolve()))
        return self.root.joinpath(*("_parent_" if part == ".." else part for part in relative.parts))

    def path_of(self, dag_file: Path, dag_id: str) -> Path:
        return self.folder_of(dag_file) / file_name_for(dag_id)

    # the snapshot session's candidate source (snapshots/session.py)
    def has_snapshots(self) -> bool:
        return self.root.is_dir()

    def candidates(self, why_not_judged: Callable[[Path], str | None]) -> tuple[list[str], list[tuple[str, str]]]:
        """(unused snapshot files, snapshot folders not looked into with the reason)."""
        files: set[str] = set()
        held: list[tuple[str, str]] = []
        for path, result in sorted(self.collection.files.items()):
            folder = self.folder_of(path)
            existing = _json_files(folder)
            if not existing:
                continue
            why = why_not_judged(path)
            if why is None and path in self.collection.narrowed:
                why = "a node id narrowed its collection"
            if why is None and result.errors:
                why = "the DAG file failed to import"
            if why is not None:
                held.append((str(folder), why))
                continue
            expected = {file_name_for(dag_id) for dag_id in result.dag_ids}
            files.update(str(f) for f in existing if f.name not in expected)
        listed = {self.folder_of(path) for path in self.repository.listed()}
        for dag_folder in self.collection.whole:
            tree = self.folder_of(dag_folder)
            for folder in sorted({tree, *(p for p in tree.rglob("*") if p.is_dir())} if tree.is_dir() else ()):
                if folder not in listed:  # no DAG file of that name any more
                    files.update(str(f) for f in _json_files(folder))
        return sorted(files), held


def _json_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.is_file()) if folder.is_dir() else []
