"""Real metadata DB servers (``--xcom-db``): a database of the harness's own, emptied per test.

The harness creates ``pytest_xcom_<pid>_<suffix>`` on the server the user names, migrates it once,
and drops it at the end of the session; it never touches the other databases on that server.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from pytest_xcom.errors import DatabaseServerError

SUPPORTED = ("postgresql", "mysql")
# Default drivers: the ones Airflow itself requires (it refuses MySQL without mysqlclient).
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "mysql": "mysql+mysqldb"}
# Airflow derives its async connection from the sync URL with these drivers.
ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "mysql": "mysql+aiomysql"}
EXTRAS = {"postgresql": "postgres", "mysql": "mysql"}
PACKAGES = {"postgresql": "psycopg2-binary and asyncpg", "mysql": "mysqlclient and aiomysql"}
EXAMPLES = "postgresql://postgres@127.0.0.1:5432/postgres or mysql://root@127.0.0.1:3306/test"
# Bounded waits: a server that does not answer must not hang the session, nor a SIGTERM's cleanup.
_CONNECT_TIMEOUT = {driver: {"connect_timeout": 10} for driver in ("psycopg2", "mysqldb", "pymysql")}
_HARNESS_DATABASE = re.compile(r"pytest_xcom_[0-9a-z_]+\Z")


def _parsed(url: str) -> Any:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseServerError(
            f"--xcom-db {url!r} is not a database URL: give the server's URL, e.g. {EXAMPLES}"
        ) from None


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return str(make_url(url).render_as_string(hide_password=True))
    except (ArgumentError, ValueError):
        return repr(url)


def _normalized(url: str) -> Any:
    parsed = _parsed(url)
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise DatabaseServerError(
            f"--xcom-db {url!r}: pytest-xcom runs on PostgreSQL or MySQL servers (or the embedded "
            f"SQLite default), not {backend!r}"
        )
    if parsed.drivername == backend:
        parsed = parsed.set(drivername=DEFAULT_DRIVERS[backend])
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise DatabaseServerError(
            f"--xcom-db {safe_url(url)}: SQLAlchemy knows no driver {parsed.drivername!r}; "
            f"give the plain URL ({backend}://...) to use {DEFAULT_DRIVERS[backend]}"
        ) from None
    if getattr(dialect, "is_async", False):
        raise DatabaseServerError(
            f"--xcom-db {safe_url(url)} names the async driver {parsed.get_driver_name()!r}: give the "
            f"sync URL ({backend}://... or {DEFAULT_DRIVERS[backend]}://...); Airflow derives its async "
            f"connection ({ASYNC_DRIVERS[backend]}) from it"
        )
    return parsed


def check_url(server_url: str) -> None:
    """Stop at once, saying what to do, when ``--xcom-db`` cannot work: not a URL, another kind of
    server, an async driver, or a driver (sync, or the async one Airflow derives) not installed."""
    parsed = _normalized(server_url)
    backend = parsed.get_backend_name()
    missing = []
    for drivername in dict.fromkeys((parsed.drivername, ASYNC_DRIVERS[backend])):
        dialect: Any = make_url(f"{drivername}://").get_dialect()
        load = getattr(dialect, "import_dbapi", None) or dialect.dbapi  # SQLAlchemy 2 / 1.4
        try:
            load()
        except ImportError as exc:
            missing.append(exc.name or drivername)
    if missing:
        raise DatabaseServerError(
            f"--xcom-db {safe_url(server_url)}: the database driver module(s) {', '.join(missing)} "
            f'cannot be imported: pip install "pytest-xcom[{EXTRAS[backend]}]" (it installs the drivers Airflow '
            f"uses: {PACKAGES[backend]})"
        )


def database_name(url: str) -> str | None:
    name = make_url(url).database
    return name if isinstance(name, str) and _HARNESS_DATABASE.match(name) else None


def _admin_engine(parsed: Any) -> Any:
    admin_db = "postgres" if parsed.get_backend_name() == "postgresql" else None
    return create_engine(
        parsed.set(database=admin_db),
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=True,
        connect_args=_CONNECT_TIMEOUT.get(parsed.get_driver_name(), {}),
    )


def create_database(server_url: str, name: str) -> str:
    """Create the harness's database on the server; return its URL."""
    parsed = _normalized(server_url)
    engine = _admin_engine(parsed)
    quote = '"' if parsed.get_backend_name() == "postgresql" else "`"
    try:
        with engine.connect() as connection:
            if parsed.get_backend_name() == "mysql":
                connection.execute(
                    text(f"CREATE DATABASE {quote}{name}{quote} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                )
            else:
                connection.execute(text(f"CREATE DATABASE {quote}{name}{quote}"))
    except Exception as exc:
        raise DatabaseServerError(
            f"--xcom-db: cannot create a database on {parsed.render_as_string(hide_password=True)}: "
            f"{type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc
    finally:
        engine.dispose()
    return str(parsed.set(database=name).render_as_string(hide_password=False))


def _drop(connection: Any, backend: str, name: str) -> None:
    if backend == "postgresql":
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    # MySQL waits for the metadata locks of open transactions (a session stopped by a signal in the
    # middle of one): end the connections to that database first, then drop it, waiting boundedly.
    with contextlib.suppress(Exception):
        connection.execute(text("SET SESSION lock_wait_timeout = 30"))
    with contextlib.suppress(Exception):
        ids = connection.execute(
            text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :name AND ID <> CONNECTION_ID()"),
            {"name": name},
        ).scalars()
        for connection_id in list(ids):
            with contextlib.suppress(Exception):
                connection.execute(text(f"KILL {int(connection_id)}"))
    connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


def drop_database(url: str) -> None:
    parsed = make_url(url)
    engine = _admin_engine(parsed)
    try:
        with engine.connect() as connection:
            _drop(connection, parsed.get_backend_name(), str(parsed.database))
    finally:
        engine.dispose()


def sweep_databases(server_url: str, is_leftover: Callable[[str], bool]) -> list[str]:
    """Drop the databases ended sessions of this machine left on the server; return their names.

    Best effort: a server that cannot be reached is reported by :func:`create_database`.
    """
    parsed = _normalized(server_url)
    backend = parsed.get_backend_name()
    engine = _admin_engine(parsed)
    dropped: list[str] = []
    try:
        with engine.connect() as connection:
            query = (
                "SELECT datname FROM pg_database WHERE datname LIKE 'pytest_xcom_%'"
                if backend == "postgresql"
                else "SHOW DATABASES LIKE 'pytest_xcom_%'"
            )
            for name in [row[0] for row in connection.execute(text(query))]:
                if is_leftover(name):
                    with contextlib.suppress(Exception):
                        _drop(connection, backend, name)
                        dropped.append(name)
    except Exception:
        pass
    finally:
        engine.dispose()
    return dropped


class Baseline:
    """The rows a freshly migrated database holds, to go back to before every test."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import MetaData

        self.metadata = MetaData()
        self.metadata.reflect(bind=engine)
        self.dialect = engine.dialect.name
        with engine.connect() as connection:
            self.rows = {
                table.name: [dict(row._mapping) for row in connection.execute(table.select())]
                for table in self.metadata.sorted_tables
            }

    def restore(self, engine: Any) -> None:
        tables = self.metadata.sorted_tables
        with engine.begin() as connection:
            if self.dialect == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
                for table in reversed(tables):
                    connection.execute(table.delete())
            for table in tables:
                if self.rows[table.name]:
                    connection.execute(table.insert(), self.rows[table.name])
            if self.dialect != "postgresql":
                connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@contextlib.contextmanager
def engine_for(url: str) -> Any:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
