"""The DAG files of the session's DAG folders, each imported once per process, in a fixed order.

Airflow's own rules say which files are DAG files and how an import fails (see
``_airflow/dag_folder.py``). Each file is imported the way ``xcom.load_dag`` imports one
(``recording/loader.py``), then parked: its folder leaves ``sys.path`` and its neighbour modules
leave ``sys.modules`` until its DAGs run, so the next file imports as if it were alone.

Duplicate DAG ids are judged as Airflow's DagBag judges them: in listing order, on the later file.
So a file is only imported after every file listed before it, whatever pytest collects first.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.isolation.signals import interrupts_watched
from pytest_xcom.recording.loader import DagFiles, ImportedFile


@dataclass
class DagFileResult:
    """One DAG file as Airflow would parse it: the DAGs it keeps, and the import errors it reports."""

    path: Path
    dags: list[Any]  # the DAGs Airflow keeps of this file, one per dag_id, in definition order
    errors: list[ImportProblem]  # as Airflow reports them
    imported: ImportedFile  # what the import put in the process, parked until its DAGs run
    seconds: float  # how long the import took

    @property
    def dag_ids(self) -> list[str]:
        return [dag.dag_id for dag in self.dags]


@dataclass
class Collection:
    """What whole-repository mode collected in this process, for the snapshot session and the report."""

    files: dict[Path, DagFileResult] = field(default_factory=dict)  # collected DAG files (resolved)
    import_only: list[str] = field(default_factory=list)  # DAGs the hook left to their import item
    narrowed: set[Path] = field(default_factory=set)  # files a node id narrowed (path::name given)
    whole: list[Path] = field(default_factory=list)  # DAG folders collected as a whole


@dataclass(frozen=True)
class ImportProblem:
    """One import error of a DAG file: a line saying where and what, and Airflow's own report of it."""

    summary: str  # "dags/etl.py, line 4: SyntaxError: invalid syntax"
    report: str  # what Airflow records (DagBag.import_errors, the UI), with a lead line in words


def _line_in(exc: BaseException, folder: Path) -> int | None:
    """The line of the user's code the error points at: a syntax error's, or the deepest frame under
    the DAG file's folder (the file itself, or a neighbour it imported)."""
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        return exc.lineno
    found = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if Path(frame.f_code.co_filename).parent == folder or folder in Path(frame.f_code.co_filename).parents:
            found = line
    return found


def _problem(where: str, exc: BaseException, timeout: float, folder: Path) -> ImportProblem:
    text = _airflow.import_error_text(exc).rstrip("\n")
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        lead = f"{where} called sys.exit({exc.code!r}) while it was imported; Airflow records:"
    elif isinstance(exc, KeyboardInterrupt):
        lead = f"{where} raised KeyboardInterrupt while it was imported (not a Ctrl-C of yours); Airflow records:"
    elif name == "AirflowTaskTimeout":
        lead = (
            f"{where} took longer than dagbag_import_timeout ({timeout:g} s) to import; raise it with "
            "[core] dagbag_import_timeout (AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT), or import less at the top "
            "level. Airflow records:"
        )
    else:
        lead = f"{where} failed to import; Airflow records:"
    line = _line_in(exc, folder)
    message = str(exc).splitlines()[0] if str(exc) else ""
    summary = f"{where}{f', line {line}' if line else ''}: {name}{f': {message}' if message else ''}"
    return ImportProblem(summary, f"{lead}\n{text}")


class DagRepository:
    """The DAG files under the session's DAG folders, listed by Airflow's rules, imported on demand."""

    def __init__(self, folders: list[Path], rootdir: Path) -> None:
        self.folders = folders
        self.rootdir = rootdir
        self._listed: list[Path] | None = None
        self._owner: dict[Path, Path] = {}  # DAG file -> the DAG folder that lists it
        self._results: dict[Path, DagFileResult] = {}
        self._checks: Any = None  # Airflow's DagBag checks, across every file of the session

    def display(self, path: Path) -> str:
        """``path`` as the user reads it: relative to the rootdir."""
        return os.path.relpath(path, self.rootdir)

    def listed(self) -> list[Path]:
        """Every DAG file of every folder, in Airflow's listing order (sorted), each once."""
        if self._listed is None:
            found: list[Path] = []
            for folder in self.folders:
                for name in _airflow.list_dag_files(str(folder)):
                    path = Path(name).resolve()
                    if path not in self._owner:
                        self._owner[path] = folder
                        found.append(path)
            self._listed = found
        return self._listed

    def listed_under(self, folder: Path) -> list[Path]:
        self.listed()
        return [path for path, owner in self._owner.items() if owner == folder]

    def is_dag_file(self, path: Path) -> bool:
        self.listed()
        return Path(path).resolve() in self._owner

    def result(self, path: Path) -> DagFileResult:
        """The file's DAGs and errors; every file listed before it is imported first (duplicates)."""
        target = Path(path).resolve()
        if target not in self._results:
            for listed in self.listed():
                if listed not in self._results:
                    self._results[listed] = self._import(listed)
                if listed == target:
                    break
        return self._results[target]

    def results(self) -> list[DagFileResult]:
        """The files imported so far, in listing order."""
        return [self._results[path] for path in self.listed() if path in self._results]

    def _import(self, path: Path) -> DagFileResult:
        files = DagFiles()
        started = time.perf_counter()
        imported: ImportedFile | None = None
        timeout = 0.0
        with interrupts_watched() as interrupts:
            try:
                if path.suffix == ".py":  # Airflow bounds the import of .py files, not of zip archives
                    with _airflow.import_timeout(str(path)) as timeout:
                        imported = files.import_file(path)
                else:
                    imported = files.import_file(path)
            except KeyboardInterrupt as exc:
                if interrupts.received:
                    raise  # the user's Ctrl-C: the session stops, as it always does
                imported = ImportedFile(path, [], [(str(path), exc)], str(path.parent))
            except BaseException as exc:  # the timer fired between the end of the import and its cancel
                if imported is None:
                    imported = ImportedFile(path, [], [(str(path), exc)], str(path.parent))
        seconds = time.perf_counter() - started
        files.park(imported)
        shown = self.display(path)
        folder = Path(imported.folder)  # the DAG file's folder, or the zip archive
        errors = [_problem(self.display(Path(where)), exc, timeout, folder) for where, exc in imported.errors]
        if self._checks is None:
            self._checks = _airflow.DagBagChecks(str(self._owner.get(path, path.parent)))
        kept, refused = self._checks.bag(imported.dags)
        errors += [ImportProblem(f"{shown}: {text}", f"Airflow's DagBag refuses a DAG of {shown}:\n{text}")
                   for text in refused]
        by_id = {dag.dag_id: dag for dag in kept}  # one file defining an id twice: Airflow keeps the last
        dags = [dag for dag in kept if by_id[dag.dag_id] is dag]
        return DagFileResult(path, dags, errors, imported, seconds)
