"""Loading DAG objects from DAG files, with errors that say what went wrong and where.

A DAG file imports its neighbours as from the root of a DAG bundle: its folder goes on
``sys.path``. ``DagFiles`` keeps what that changes in this process to the test that loaded the
file: neighbours of one folder never stand in for another folder's, and at the end of the test the
folders leave ``sys.path`` and the modules imported from them leave ``sys.modules``.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import os
import sys
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.errors import DagFileError
from pytest_xcom.tracebacks import is_machinery_frame


@dataclass
class ImportedFile:
    """One DAG file imported by ``DagFiles.import_file``: its DAGs and its import errors.

    ``errors``: (the file, or ``<archive>/<member>`` in a zip, and the exception) for each part that
    failed to import. ``folder`` is the ``sys.path`` entry it imports its neighbours through,
    ``modules`` what its import put in ``sys.modules`` (filled by ``DagFiles.park``).
    """

    path: Path
    dags: list[Any]
    errors: list[tuple[str, BaseException]]
    folder: str
    modules: dict[str, ModuleType] = field(default_factory=dict)


class DagFiles:
    """The DAG files one test loaded, and what loading them changed in this process."""

    def __init__(self) -> None:
        self._entries: list[str] = []  # sys.path entries inserted, each removed once at close
        self._owned: list[str] = []  # folders this harness put on sys.path: their modules are its own
        self._dag_modules: dict[str, ModuleType] = {}  # the DAG files' modules, by name

    def load(self, path: str | Path, dag_id: str | None = None) -> Any:
        """Import the DAG file at ``path`` and return its DAG (``dag_id`` picks one of several).

        A file that cannot be used raises ``DagFileError`` and leaves nothing behind: neither its
        folder on ``sys.path`` nor the neighbour modules it imported.
        """
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            where = "is a directory, not a file" if file.is_dir() else "does not exist"
            raise DagFileError(f"DAG file {str(path)!r} {where} (resolved to {file})")
        if file.suffix != ".py":
            raise DagFileError(
                f"DAG file {str(path)!r} is not a Python file ({file.suffix or 'no suffix'}): xcom.load_dag imports "
                "Python DAG files; for DAGs generated from YAML or JSON, load the .py file that builds them"
            )
        folder = str(file.parent)
        module_name = _module_name(file)
        inserted, shadowed = self._enter(folder)
        before = set(sys.modules)
        try:
            module, dags = _airflow.import_dag_file(str(file), module_name)
            dag = _pick(dags, dag_id, path)
        except BaseException as exc:
            self._roll_back(folder, inserted, before, module_name, shadowed)
            if isinstance(exc, SystemExit):
                raise DagFileError(
                    f"DAG file {str(path)!r} called sys.exit({exc.code!r}) while it was imported: a DAG file "
                    "must define its DAGs without exiting (Airflow's DAG processor would skip it)"
                ) from None
            if not isinstance(exc, Exception) or isinstance(exc, DagFileError):
                raise
            raise DagFileError(
                f"could not import DAG file {str(path)!r}: {type(exc).__name__}: {exc}\n{_where(exc)}"
            ) from None  # the message holds the error and its place: shown once, without the harness's frames
        self._dag_modules[module_name] = module
        return dag

    def import_file(self, path: Path) -> ImportedFile:
        """Import every DAG of the DAG file (or zip archive) at ``path``, as ``load`` imports one.

        The file's own failures (an exception, ``sys.exit``, a timeout at import; a zip member that
        fails) are returned with the DAGs, not raised, and leave nothing behind; only a
        ``KeyboardInterrupt`` propagates (whether it was the user's Ctrl-C is the caller's to say).
        """
        file = Path(path).resolve()
        zipped = file.suffix != ".py" and zipfile.is_zipfile(file)
        folder = str(file) if zipped else str(file.parent)  # a zip archive is its own sys.path entry
        module_name = _module_name(file)
        inserted, shadowed = self._enter(folder)
        before = set(sys.modules)
        try:
            if zipped:
                _modules, dags, errors = _airflow.import_dag_zip(str(file))
            else:
                module, dags = _airflow.import_dag_file(str(file), module_name)
                self._dag_modules[module_name] = module
                errors = []
        except BaseException as exc:
            self._roll_back(folder, inserted, before, module_name, shadowed)
            if isinstance(exc, KeyboardInterrupt):
                raise
            return ImportedFile(file, [], [(str(file), exc)], folder, {})
        return ImportedFile(file, dags, errors, folder, {})

    def park(self, imported: ImportedFile) -> None:
        """Take what importing ``imported`` put in this process out again, kept on ``imported``.

        The next file then imports without this one's neighbour modules in the way; ``unpark``
        puts them back while this file's DAGs run.
        """
        for folder in self._owned:
            imported.modules.update(_modules_from(folder))
        imported.modules.update(self._dag_modules)
        self.close()

    def unpark(self, imported: ImportedFile) -> None:
        """Put back what ``park`` took out (never over a module of the same name loaded since),
        with the file's folder first on ``sys.path``, until ``close``."""
        self._enter(imported.folder)
        for name, module in imported.modules.items():
            if name not in sys.modules:
                sys.modules[name] = module
                self._dag_modules[name] = module

    def close(self) -> None:
        """Take the loaded folders off ``sys.path`` and what was imported from them out of ``sys.modules``."""
        for entry in self._entries:
            if entry in sys.path:
                sys.path.remove(entry)
        for folder in self._owned:
            for name in _modules_from(folder):
                sys.modules.pop(name, None)
        for name, module in self._dag_modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        self._entries.clear()
        self._owned.clear()
        self._dag_modules.clear()

    def _enter(self, folder: str) -> tuple[bool, dict[str, ModuleType]]:
        """Put ``folder`` first on ``sys.path``; whether it was inserted, and the other loaded
        folders' modules its own would shadow (taken out of ``sys.modules``: never reused)."""
        inserted = self._put_first(folder)
        shadowed = {
            name: module
            for other in self._owned
            if other != folder
            for name, module in _modules_from(other).items()
            if _provides(folder, name.partition(".")[0])
        }
        for name in shadowed:
            sys.modules.pop(name, None)
        return inserted, shadowed

    def _put_first(self, folder: str) -> bool:
        """Make ``folder`` the first place imports look; whether a new entry was inserted for it."""
        if folder in self._owned:  # loaded before in this test: to the front again
            if folder in sys.path:
                sys.path.remove(folder)
            sys.path.insert(0, folder)
            return False
        if folder not in sys.path:
            sys.path.insert(0, folder)
            self._entries.append(folder)
            self._owned.append(folder)
            return True
        # The user's own entry (the test's folder, say): left where it is, unless a folder loaded
        # earlier stands in front of it; then a second entry goes first, for this test only.
        first = sys.path.index(folder)
        if any(entry in self._owned for entry in sys.path[:first]):
            sys.path.insert(0, folder)
            self._entries.append(folder)
            return True
        return False

    def _roll_back(
        self, folder: str, inserted: bool, before: set[str], module_name: str, shadowed: dict[str, ModuleType]
    ) -> None:
        """Undo what one failed ``load`` did."""
        if inserted:
            if folder in sys.path:
                sys.path.remove(folder)
            self._entries.remove(folder)
            if folder in self._owned:
                self._owned.remove(folder)
        for name in _modules_from(folder):
            if name not in before:  # half-imported neighbours of the file that failed
                sys.modules.pop(name, None)
        sys.modules.pop(module_name, None)
        for name, module in shadowed.items():
            sys.modules.setdefault(name, module)


def _where(exc: BaseException) -> str:
    """Where the import failed: a syntax error's line and caret, else the last frames of the user's code."""
    if isinstance(exc, SyntaxError):
        # The lines that point at the code; the error's own line is already in the message.
        lines = traceback.format_exception_only(type(exc), exc)
        return "".join(line for line in lines[:-1] if line.strip()).rstrip("\n")
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if not is_machinery_frame(frame.filename)]
    if len(frames) <= 3:
        return "".join(traceback.format_list(frames)).rstrip("\n")
    # The DAG file's line that started it, and the two frames that raised.
    return "".join([*traceback.format_list(frames[:1]), "  ...\n", *traceback.format_list(frames[-2:])]).rstrip("\n")


def _module_name(file: Path) -> str:
    return "pytest_xcom_dagfile_" + hashlib.sha1(str(file).encode()).hexdigest()[:12]


def _modules_from(folder: str) -> dict[str, ModuleType]:
    """The modules in ``sys.modules`` imported through ``folder`` as a ``sys.path`` entry.

    A module counts when its name is its file's path under the folder (``helpers`` for
    ``<folder>/helpers.py``, ``pkg.sub`` for ``<folder>/pkg/sub.py``): a module that lives in the
    folder but was imported under another name, through another entry, is someone else's.
    """
    prefix = os.path.join(folder, "")
    found: dict[str, ModuleType] = {}
    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType):
            continue
        try:
            file = getattr(module, "__file__", None)
        except Exception:  # a lazy module that imports on attribute access
            continue
        if isinstance(file, str):
            if file.startswith(prefix) and _name_of(file[len(prefix) :]) == name:
                found[name] = module
        elif _namespace_package_in(module, prefix, name):
            found[name] = module
    return found


def _name_of(relative_file: str) -> str:
    """The module name a file has when imported through the folder it is relative to."""
    *packages, filename = Path(relative_file).parts
    stem = filename.partition(".")[0]  # helpers.py, helpers.cpython-311-x86_64-linux-gnu.so
    return ".".join(packages if stem == "__init__" else [*packages, stem])


def _namespace_package_in(module: ModuleType, prefix: str, name: str) -> bool:
    try:
        locations = list(getattr(module, "__path__", None) or ())
    except Exception:
        return False
    return os.path.join(prefix, *name.split(".")) in locations


def _provides(folder: str, top_level: str) -> bool:
    """Whether importing ``top_level`` through ``folder`` finds a module or package there."""
    try:
        return importlib.machinery.PathFinder.find_spec(top_level, [folder]) is not None
    except (ImportError, ValueError):
        return False


def _pick(dags: list[Any], dag_id: str | None, path: str | Path) -> Any:
    ids = sorted(dag.dag_id for dag in dags)
    if not dags:
        raise DagFileError(
            f"DAG file {str(path)!r} defines no DAG: no DAG object at module level and no @dag "
            "function called at module level"
        )
    if dag_id is None:
        if len(dags) > 1:
            raise DagFileError(
                f"DAG file {str(path)!r} defines {len(dags)} DAGs ({', '.join(ids)}); pass dag_id= to choose one"
            )
        return dags[0]
    for dag in dags:
        if dag.dag_id == dag_id:
            return dag
    raise DagFileError(f"DAG file {str(path)!r} has no DAG {dag_id!r}; it defines: {', '.join(ids)}")
