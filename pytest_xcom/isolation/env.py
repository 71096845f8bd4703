"""The isolated Airflow environment: built before Airflow is imported, undone at the end.

Whatever AIRFLOW_HOME, airflow.cfg or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN say, a pytest session
with pytest-xcom points Airflow at its own throwaway home, dags folder and metadata DB.

What a session makes (``/dev/shm/pytest-xcom-<owner>-*``, ``pytest_xcom_<owner>_*`` on a server) is
named after its owner: pid, machine (boot id, pid namespace, host name) and process start time. A
SIGTERM or SIGHUP removes it before the process ends of the signal; what a process killed outright
left (SIGKILL, ``os._exit`` in task code) is swept by the next session on this machine, once its
owner is gone. A live run's files are never touched.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pytest_xcom import _airflow
from pytest_xcom.errors import IsolationError
from pytest_xcom.isolation.owners import _owner, is_leftover_database, sweep_leftovers
from pytest_xcom.isolation.signals import (
    Handler,
    install_termination_handlers,
    restore_termination_handlers,
)

# Settings that would let the user's real environment leak into the harness: their DB, their
# secrets backend (network), their bundles (imports of unrelated files), remote logging.
_REMOVED = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_ENGINE_ARGS",
    "AIRFLOW__SECRETS__BACKEND",
    "AIRFLOW__SECRETS__BACKEND_KWARGS",
    "AIRFLOW__SECRETS__BACKEND_KWARGS_CMD",
    "AIRFLOW__SECRETS__BACKEND_KWARGS_SECRET",
    # The secrets backend of workers: task code's Variable.get and connection look-ups ask it first.
    "AIRFLOW__WORKERS__SECRETS_BACKEND",
    "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS",
    "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS_CMD",
    "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS_SECRET",
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
    environment: dict[str, str] = field(default_factory=dict)  # what isolate() set
    swept: list[str] = field(default_factory=list)  # leftovers of ended sessions removed at the start
    pid: int = field(default_factory=os.getpid)
    handlers: dict[int, tuple[Handler, Handler]] = field(default_factory=dict, repr=False)  # signal: (before, ours)

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
# The last isolation this process released: Airflow, once imported, stays configured for its DB,
# so a later session of the same process (a second pytest.main(), a notebook) takes the same names.
_last: IsolatedAirflow | None = None
_exit_hook_registered = False


def memory_dir() -> str:
    """A directory on a memory filesystem when the OS has one (Linux /dev/shm), else temp."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return str(shm)
    return tempfile.gettempdir()


# --- isolate / release ---


def isolate(server_url: str | None = None) -> IsolatedAirflow:
    """Point Airflow at a fresh home and DB; nested pytest sessions share the outer one.

    The DB is an in-memory SQLite file, or, with ``server_url`` (``--xcom-db``), a database of
    its own that the harness creates on that server and drops at the end. Leftovers of ended
    sessions of this machine are swept first; SIGTERM and SIGHUP remove what this one makes.
    """
    global _active, _last, _exit_hook_registered
    if _active is not None:
        _active.depth += 1
        return _active
    server_url = server_url or None
    previous = _last if _last is not None and _configured_db() == _last.db_url else None
    if previous is not None and previous.server_url != server_url:
        raise IsolationError(
            "An earlier pytest session in this process (a previous pytest.main() call, a notebook cell) "
            f"ran on pytest-xcom's {_describe(previous.server_url)}, and Airflow, once imported, stays "
            "configured for that metadata DB for the life of the process. Run this session with "
            f"{_as_option(previous.server_url)} as before, or in a new process (restart the kernel) to change it."
        )
    _refuse_if_airflow_configured_elsewhere(previous.db_url if previous else None)
    if server_url:
        from pytest_xcom.isolation import servers

        servers.check_url(server_url)
    swept = sweep_leftovers(memory_dir())
    if previous is not None:
        root = previous.root
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(mode=0o700)
    else:
        root = Path(tempfile.mkdtemp(prefix=f"pytest-xcom-{_owner('-')}-", dir=memory_dir()))
    try:
        (root / "home").mkdir()
        (root / "dags").mkdir()
        if server_url:
            from pytest_xcom.isolation import servers

            swept += [f"database {name}" for name in servers.sweep_databases(server_url, is_leftover_database)]
            db_name = servers.database_name(previous.db_url) if previous else None
            db_name = db_name or f"pytest_xcom_{_owner('_')}_{secrets.token_hex(3)}"
            db_url = servers.create_database(server_url, db_name)
        else:
            db_url = f"sqlite:///{root / 'airflow.db'}"
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    iso = IsolatedAirflow(root=root, db_url=db_url, server_url=server_url, swept=swept)
    iso.environment = dict(previous.environment) if previous else _environment(iso)
    for name in (*iso.environment, *_REMOVED):
        iso.saved_env[name] = os.environ.get(name)
    for name in _REMOVED:
        os.environ.pop(name, None)
    os.environ.update(iso.environment)
    install_termination_handlers(iso.handlers, functools.partial(_remove, iso))
    if not _exit_hook_registered:
        atexit.register(_remove_at_exit)
        _exit_hook_registered = True
    _active, _last = iso, None
    return iso


def _environment(iso: IsolatedAirflow) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(iso.home),
        "AIRFLOW_CONFIG": str(iso.home / "airflow.cfg"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": iso.db_url,
        "AIRFLOW__CORE__DAGS_FOLDER": str(iso.dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__XCOM_BACKEND": _airflow.default_xcom_backend_path(),
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "False",
        # The in-process execution API's lifespan builds a JWT validator and fails without a secret
        # (Airflow 3.2; later releases skip it in process). A throwaway one: nothing leaves the process.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        # Serialize every DAG object handed to a run, even one rebuilt seconds after another with
        # the same dag_id: the default (30 s) keeps the first one's serialized version.
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
        # gcsfs (2026.x) otherwise asks the Storage Control gRPC API for each bucket's layout, which
        # no emulator serves: every call then hangs for a minute of retries. Read when gcsfs is imported.
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }


def release(iso: IsolatedAirflow) -> None:
    """Undo :func:`isolate` once the outermost session that asked for it ends."""
    global _active, _last
    iso.depth -= 1
    if iso.depth > 0:
        return
    for name, value in iso.saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    restore_termination_handlers(iso.handlers)
    _active, _last = None, iso
    _remove(iso)


def _remove(iso: IsolatedAirflow) -> None:
    shutil.rmtree(iso.root, ignore_errors=True)
    if iso.server_url:
        from pytest_xcom.isolation import servers

        servers.drop_database(iso.db_url)


def _remove_at_exit() -> None:
    """The interpreter ends with a session still isolated (its pytest_unconfigure never ran)."""
    iso = _active
    if iso is not None and iso.pid == os.getpid():
        with contextlib.suppress(Exception):
            _remove(iso)


def _configured_db() -> str | None:
    settings = sys.modules.get("airflow.settings")
    configured = getattr(settings, "SQL_ALCHEMY_CONN", None) if settings else None
    return configured if isinstance(configured, str) and configured else None


def _describe(server_url: str | None) -> str:
    if server_url is None:
        return "embedded SQLite"
    from pytest_xcom.isolation import servers

    return f"database on {servers.safe_url(server_url)} (--xcom-db)"


def _as_option(server_url: str | None) -> str:
    if server_url is None:
        return "no --xcom-db"
    from pytest_xcom.isolation import servers

    return f"--xcom-db {servers.safe_url(server_url)}"


def _refuse_if_airflow_configured_elsewhere(db_url: str | None) -> None:
    configured = _configured_db()
    if configured and configured != db_url:
        raise IsolationError(
            "Airflow was imported before pytest-xcom could isolate it, and it is configured for "
            f"the metadata DB {configured!r}. pytest-xcom refuses to run tests there. Make sure "
            "nothing imports airflow before pytest loads its plugins (a sitecustomize, a plugin "
            "loaded with -p before xcom, code run at interpreter start-up, or, in a notebook, a "
            "cell that imported airflow before the first pytest run)."
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
