"""The metadata DB: a migrated template built once per Airflow version, a fresh copy per test."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.isolation.env import IsolatedAirflow

# Bump when the way templates are built changes, so stale cached files are not reused.
TEMPLATE_FORMAT = "1"


def cache_dir() -> Path:
    """Where templates are kept between sessions ($PYTEST_XCOM_CACHE_DIR overrides)."""
    override = os.environ.get("PYTEST_XCOM_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-xcom"


def template_path() -> Path:
    key = hashlib.sha256(f"{TEMPLATE_FORMAT};{_airflow.schema_fingerprint()}".encode()).hexdigest()[:16]
    return cache_dir() / f"airflow-{_airflow.airflow_version()}-{key}.db"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every pytest process (xdist workers, parallel CI jobs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
        """Make sure the migrated template exists (building it if no process has yet)."""
        if self.template is not None:
            return self.template
        start = time.perf_counter()
        target = template_path()
        with _file_lock(target.with_suffix(".lock")):
            if not target.exists():
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
