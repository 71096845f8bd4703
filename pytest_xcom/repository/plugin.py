"""The pytest plugin of whole-repository mode: which DAG files pytest collects, and as what.

What is collected (``config.args``, set when the collection starts):

- ``--xcom-dags PATH`` on the command line: the DAG files of PATH join the paths given on the
  command line, or stand alone when none is given (``testpaths`` and the current directory are
  then not collected). A path given inside a DAG folder (``dags/etl.py``, ``dags/etl.py::etl``)
  narrows that folder to it.
- ``xcom_dags`` in the ini file: the DAG files join the default paths (``testpaths`` or the
  current directory) when no path is given on the command line.

A DAG folder a path given (or a default path) already contains is collected by pytest's own walk.
Either way, a file Airflow lists in a DAG folder is collected as a :class:`DagFile`, wherever
pytest meets it; the DAG files themselves are added one by one, so pytest's ``norecursedirs``
never hides one that Airflow parses.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_xcom.repository.items import COLLECTION, REPOSITORY, SNAPSHOTS, DagFile, DagRunItem
from pytest_xcom.repository.loading import Collection, DagRepository
from pytest_xcom.repository.snapshots import DagSnapshots, snapshot_root
from pytest_xcom.snapshots.assertion import PLUGIN_NAME as SNAPSHOT_PLUGIN

PLUGIN_NAME = "xcom-dags"


def dag_folders(config: pytest.Config) -> tuple[list[Path], bool]:
    """The DAG folders (or files), and whether they were given on the command line."""
    given = config.getoption("xcom_dags", default=None)
    if given:
        base = config.invocation_params.dir
        folders, where = [(base / path).resolve() for path in given], "--xcom-dags"
    else:
        folders, where = [Path(path).resolve() for path in config.getini("xcom_dags")], "xcom_dags (ini)"
    for folder in folders:
        if not folder.exists():
            raise pytest.UsageError(f"{where}: {folder} does not exist")
    unique = [f for i, f in enumerate(folders) if f not in folders[:i]]
    return unique, bool(given)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class DagRepositoryPlugin:
    """Registered by pytest_xcom.plugin when DAG folders are configured."""

    def __init__(self, config: pytest.Config, folders: list[Path], *, from_command_line: bool) -> None:
        self.config = config
        self.folders = folders
        self.from_command_line = from_command_line
        self.repository = DagRepository(folders, config.rootpath)
        self.collection = Collection()
        self.snapshots = DagSnapshots(snapshot_root(config), config.rootpath, self.repository, self.collection)
        config.stash[REPOSITORY] = self.repository
        config.stash[SNAPSHOTS] = self.snapshots
        config.stash[COLLECTION] = self.collection
        config.pluginmanager.getplugin(SNAPSHOT_PLUGIN).candidate_sources.append(self.snapshots)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        if session.config.pluginmanager.has_plugin("dsession"):
            return  # the xdist controller collects nothing: its workers do, each deciding alike
        config = session.config
        here = config.invocation_params.dir
        given = config.args_source == pytest.Config.ArgsSource.ARGS
        paths = [((here / arg.split("::")[0]).resolve(), "::" in arg) for arg in config.args]
        self.collection.narrowed = {path for path, narrowed in paths if narrowed}
        replace = self.from_command_line and not given
        added: list[str] = []
        for folder in self.folders:
            if not replace:
                if any(not narrowed and _within(folder, path) for path, narrowed in paths):
                    self.collection.whole.append(folder)  # collected by pytest's walk of a path above it
                    continue
                if any(_within(path, folder) for path, _ in paths) or (given and not self.from_command_line):
                    continue  # narrowed by the user, or an ini folder with paths given
            self.collection.whole.append(folder)
            added += [str(path) for path in self.repository.listed_under(folder)]
        config.args = ([] if replace else list(config.args)) + added

    @pytest.hookimpl(wrapper=True)
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        collectors = yield
        if not any(_within(file_path, folder) for folder in self.folders):
            return collectors
        if not self.repository.is_dag_file(file_path):
            return collectors
        # pytest collects any .py file given by path as a test module: not a DAG file that is
        # no test module by name (python_files), which Airflow alone imports.
        patterns = parent.config.getini("python_files")
        is_test_module = any(fnmatch.fnmatch(file_path.name, pattern) for pattern in patterns)
        kept = [c for c in collectors if is_test_module or not isinstance(c, pytest.Module)]
        return [*kept, DagFile.from_parent(parent, path=file_path)]

    def pytest_report_collectionfinish(
        self, config: pytest.Config, start_path: Path, items: list[pytest.Item]
    ) -> list[str]:
        files = self.collection.files
        folders = ", ".join(os.path.relpath(folder, config.rootpath) for folder in self.folders)
        if not files:
            if self.collection.whole and not any(self.repository.listed_under(f) for f in self.collection.whole):
                return [
                    f"pytest-xcom: no DAG file in {folders} by Airflow's rules (.airflowignore; safe mode: a DAG "
                    'file mentions "airflow" and "dag" or "asset"; .py files and zip archives)'
                ]
            return []
        dags = sum(len(result.dags) for result in files.values())
        broken = sum(1 for result in files.values() if result.errors)
        runs = sum(1 for item in items if isinstance(item, DagRunItem))
        lines = [
            f"pytest-xcom: {len(files)} DAG file(s) in {folders} (Airflow's rules), {broken} with import errors; "
            f"{dags} DAG(s), {runs} selected to run"
        ]
        if self.collection.import_only:
            only = ", ".join(self.collection.import_only)
            lines.append(f"pytest-xcom: import only (pytest_xcom_dag_run returned None): {only}")
        return lines
