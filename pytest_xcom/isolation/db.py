"""The metadata DB: a migrated template built once per Airflow version, a fresh copy per test."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from pytest_xcom import _airflow
from pytest_xcom.errors import XComError
from pytest_xcom.isolation.env import IsolatedAirflow

# Bump when the way templates are built changes, so stale cached files are not reused.
TEMPLATE_FORMAT = "1"


CACHE_VARIABLE = "PYTEST_XCOM_CACHE_DIR"


class CacheDirError(XComError, OSError):
    """``$PYTEST_XCOM_CACHE_DIR`` names a directory the schema template cannot be kept in."""


class SchemaTemplateWarning(UserWarning):
    """The schema template cache was repaired or could not be used: said once, never an error."""


def cache_dir() -> Path:
    """Where templates are kept between sessions ($PYTEST_XCOM_CACHE_DIR overrides)."""
    override = os.environ.get(CACHE_VARIABLE)
    if override:
        return Path(override)
    return _default_cache_dir()


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-xcom"


def template_path(directory: Path | None = None) -> Path:
    key = hashlib.sha256(f"{TEMPLATE_FORMAT};{_airflow.schema_fingerprint()}".encode()).hexdigest()[:16]
    return (directory or cache_dir()) / f"airflow-{_airflow.airflow_version()}-{key}.db"


def _unwritable(directory: Path) -> str | None:
    """Why a template cannot be written into ``directory``, or None when it can."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=directory, prefix=".pytest-xcom-write-check-")
        os.close(handle)
        os.remove(probe)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return None


def check_cache_dir() -> None:
    """Stop early when $PYTEST_XCOM_CACHE_DIR names a directory that cannot hold the template.

    A read-only cache that already holds this Airflow's template is fine (a prebuilt image).
    Without the variable, an unwritable default location is not an error: the session builds a
    template of its own (see :meth:`MetadataDB.prepare`).
    """
    override = os.environ.get(CACHE_VARIABLE)
    if not override:
        return
    problem = _unwritable(Path(override))
    if problem and _template_problem(template_path(Path(override))) is not None:
        raise CacheDirError(
            f"{CACHE_VARIABLE}={override!r} cannot hold pytest-xcom's schema template ({problem}): "
            f"point it at a writable directory, or unset it to use {_default_cache_dir()}"
        )


def _template_problem(path: Path) -> str | None:
    """None when ``path`` is a usable migrated template; else what is wrong with it."""
    if not path.is_file():
        return "missing"
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            checked = connection.execute("PRAGMA quick_check").fetchone()
            if not checked or checked[0] != "ok":
                return f"PRAGMA quick_check: {checked[0] if checked else 'no answer'}"
            if not connection.execute("SELECT version_num FROM alembic_version").fetchone():
                return "it has no migration stamp"
    except sqlite3.Error as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _say(message: str) -> None:
    # Shown in pytest's warnings summary (xdist workers' too); a repair is news, not a failure,
    # so "-W error" does not turn it into one.
    with warnings.catch_warnings():
        warnings.simplefilter("always", SchemaTemplateWarning)
        warnings.warn(SchemaTemplateWarning(f"pytest-xcom: {message}"), stacklevel=3)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every pytest process (xdist workers, parallel CI jobs).

    filelock takes an ``flock`` on Unix (the lock file stays, so waiters share its inode: sessions
    of earlier pytest-xcom versions, which called ``flock`` themselves, still exclude each other).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path)):
        yield


class MetadataDB:
    """The embedded SQLite metadata DB of one pytest process, reset from the template per test."""

    def __init__(self, iso: IsolatedAirflow) -> None:
        self.iso = iso
        self.path = iso.db_path
        self.url = iso.db_url
        self.template: Path | None = None
        self.template_built = False  # True when this process built it (cold cache)
        self.template_seconds = 0.0

    def prepare(self) -> Path:
        """Make sure the migrated template exists (building it if no process has yet).

        A cached template that is damaged (``PRAGMA quick_check``, no migration stamp) is rebuilt,
        saying so once. When the cache cannot be written and holds no usable template, the session
        builds one of its own in its throwaway directory (a warning says why), unless
        $PYTEST_XCOM_CACHE_DIR names that cache: then :class:`CacheDirError`.
        """
        if self.template is not None:
            return self.template
        start = time.perf_counter()
        directory = cache_dir()
        target = template_path(directory)
        if _template_problem(target) is not None:
            problem = _unwritable(directory)
            if problem:
                if os.environ.get(CACHE_VARIABLE):
                    raise CacheDirError(
                        f"{CACHE_VARIABLE}={str(directory)!r} cannot hold pytest-xcom's schema template "
                        f"({problem}): point it at a writable directory, or unset it"
                    )
                _say(
                    f"the schema template cache {directory} cannot be written ({problem}); this session "
                    f"builds a template of its own (about a second). Set {CACHE_VARIABLE} to a writable "
                    "directory to keep it between sessions."
                )
                target = template_path(self.iso.root / "template")
            with _file_lock(target.with_suffix(".lock")):
                problem = _template_problem(target)
                if problem is not None:
                    if problem != "missing":
                        _say(f"the cached schema template {target} was damaged ({problem}); it was rebuilt.")
                    self._build_template(target)
                    self.template_built = True
        self.template = target
        self.template_seconds = time.perf_counter() - start
        return target

    def _build_template(self, target: Path) -> None:
        # Build on this process's own DB path (Airflow's engine already points there), then
        # publish atomically so concurrent readers never see a half-written file.
        _airflow.dispose_engines()
        self._remove_files()
        _airflow.initdb()
        _airflow.dispose_engines()
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(self.path, partial)
        os.replace(partial, target)

    def reset(self) -> None:
        """Replace the DB with a fresh copy of the template (milliseconds)."""
        template = self.prepare()
        _airflow.dispose_engines()
        self._remove_files()
        shutil.copyfile(template, self.path)

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{self.path}{suffix}")

    def close(self) -> None:
        _airflow.dispose_engines()


class ServerMetadataDB:
    """The harness's own database on a real server (--xcom-db), emptied and refilled per test."""

    def __init__(self, iso: IsolatedAirflow) -> None:
        self.iso = iso
        self.url = iso.db_url
        self.template_built = True
        self.template_seconds = 0.0
        self._baseline: Any = None

    def prepare(self) -> None:
        """Migrate the database once and note the rows a fresh migration leaves."""
        if self._baseline is not None:
            return
        from pytest_xcom.isolation import servers

        start = time.perf_counter()
        _airflow.dispose_engines()
        _airflow.initdb()
        _airflow.dispose_engines()
        with servers.engine_for(self.url) as engine:
            self._baseline = servers.Baseline(engine)
        self.template_seconds = time.perf_counter() - start

    def reset(self) -> None:
        from pytest_xcom.isolation import servers

        self.prepare()
        _airflow.dispose_engines()
        with servers.engine_for(self.url) as engine:
            self._baseline.restore(engine)

    def close(self) -> None:
        _airflow.dispose_engines()


def metadata_db_for(iso: IsolatedAirflow) -> MetadataDB | ServerMetadataDB:
    """The embedded SQLite DB by default; the harness's own database on a server with --xcom-db."""
    return MetadataDB(iso) if iso.embedded else ServerMetadataDB(iso)


class XComDB:
    """What the ``xcom_db`` fixture gives a test: the DB URL and sessions on it."""

    def __init__(self, db: MetadataDB | ServerMetadataDB) -> None:
        self._db = db
        self.url = db.url

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """A SQLAlchemy session on this test's metadata DB, committed on success."""
        with _airflow.create_session() as session:
            yield session

    def __repr__(self) -> str:
        return f"<XComDB {self.url}>"
