"""The isolated Airflow environment: built before Airflow is imported, undone at the end.

Whatever AIRFLOW_HOME, airflow.cfg or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN say, a pytest session
with pytest-xcom points Airflow at its own throwaway home, dags folder and metadata DB.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pytest_xcom.errors import IsolationError

# Settings that would let the user's real environment leak into the harness: their DB, their
# secrets backend (network), their bundles (imports of unrelated files), remote logging.
_REMOVED = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_ENGINE_ARGS",
    "AIRFLOW__SECRETS__BACKEND",
    "AIRFLOW__SECRETS__BACKEND_KWARGS",
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST",
    "AIRFLOW__CORE__UNIT_TEST_MODE",
    "_AIRFLOW_SKIP_DB_TESTS",
)


@dataclass
class IsolatedAirflow:
    """The throwaway Airflow home of one pytest process."""

    root: Path
    db_url: str
    server_url: str | None = None  # --xcom-db: the server the harness made its database on
    saved_env: dict[str, str | None] = field(default_factory=dict)
    depth: int = 1

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def dags_folder(self) -> Path:
        return self.root / "dags"

    @property
    def db_path(self) -> Path:
        return self.root / "airflow.db"

    @property
    def embedded(self) -> bool:
        return self.server_url is None


_active: IsolatedAirflow | None = None


def memory_dir() -> str:
    """A directory on a memory filesystem when the OS has one (Linux /dev/shm), else temp."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return str(shm)
    return tempfile.gettempdir()


def isolate(server_url: str | None = None) -> IsolatedAirflow:
    """Point Airflow at a fresh home and DB; nested pytest sessions share the outer one.

    The DB is an in-memory SQLite file, or, with ``server_url`` (``--xcom-db``), a database of
    its own that the harness creates on that server and drops at the end.
    """
    global _active
    if _active is not None:
        _active.depth += 1
        return _active
    root = Path(tempfile.mkdtemp(prefix=f"pytest-xcom-{os.getpid()}-", dir=memory_dir()))
    if server_url:
        from pytest_xcom.isolation import servers

        try:
            db_url = servers.create_database(server_url, f"pytest_xcom_{os.getpid()}_{root.name[-8:]}")
        except Exception:
            shutil.rmtree(root, ignore_errors=True)
            raise
    else:
        db_url = f"sqlite:///{root / 'airflow.db'}"
    _refuse_if_airflow_configured_elsewhere(db_url)
    iso = IsolatedAirflow(root=root, db_url=db_url, server_url=server_url)
    iso.home.mkdir()
    iso.dags_folder.mkdir()
    wanted = {
        "AIRFLOW_HOME": str(iso.home),
        "AIRFLOW_CONFIG": str(iso.home / "airflow.cfg"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__CORE__DAGS_FOLDER": str(iso.dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__XCOM_BACKEND": "airflow.sdk.bases.xcom.BaseXCom",
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "False",
        # The in-process execution API's lifespan builds a JWT validator and fails without a secret
        # (Airflow 3.2; later releases skip it in process). A throwaway one: nothing leaves the process.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        # Serialize every DAG object handed to a run, even one rebuilt seconds after another with
        # the same dag_id: the default (30 s) keeps the first one's serialized version.
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
    }
    for name in (*wanted, *_REMOVED):
        iso.saved_env[name] = os.environ.get(name)
    for name in _REMOVED:
        os.environ.pop(name, None)
    os.environ.update(wanted)
    _active = iso
    return iso


def release(iso: IsolatedAirflow) -> None:
    """Undo :func:`isolate` once the outermost session that asked for it ends."""
    global _active
    iso.depth -= 1
    if iso.depth > 0:
        return
    for name, value in iso.saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(iso.root, ignore_errors=True)
    if iso.server_url:
        from pytest_xcom.isolation import servers

        servers.drop_database(iso.db_url)
    _active = None


def _refuse_if_airflow_configured_elsewhere(db_url: str) -> None:
    settings = sys.modules.get("airflow.settings")
    configured = getattr(settings, "SQL_ALCHEMY_CONN", None) if settings else None
    if configured and configured != db_url:
        raise IsolationError(
            "Airflow was imported before pytest-xcom could isolate it, and it is configured for "
            f"the metadata DB {configured!r}. pytest-xcom refuses to run tests there. Make sure "
            "nothing imports airflow before pytest loads its plugins (a sitecustomize, a plugin "
            "loaded with -p before xcom, or code run at interpreter start-up)."
        )


@contextlib.contextmanager
def environ_restored() -> Iterator[None]:
    """Undo every environment change made inside the block.

    Airflow's task runner exports AIRFLOW_CTX_* variables for each task and never removes them;
    without this, one test's task context would still be in the next test's environment.
    """
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value
