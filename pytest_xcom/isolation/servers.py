"""Real metadata DB servers (``--xcom-db``): a database of the harness's own, emptied per test.

The harness creates ``pytest_xcom_<pid>_<suffix>`` on the server the user names, migrates it once,
and drops it at the end of the session; it never touches the other databases on that server.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pytest_xcom.errors import DatabaseServerError

SUPPORTED = ("postgresql", "mysql")
# Default drivers: the ones Airflow itself requires (it refuses MySQL without mysqlclient).
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "mysql": "mysql+mysqldb"}


def _normalized(url: str) -> Any:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise DatabaseServerError(
            f"--xcom-db {url!r}: pytest-xcom runs on PostgreSQL or MySQL servers (or the embedded "
            f"SQLite default), not {backend!r}"
        )
    if parsed.drivername == backend:
        parsed = parsed.set(drivername=DEFAULT_DRIVERS[backend])
    return parsed


def _admin_engine(parsed: Any) -> Any:
    admin_db = "postgres" if parsed.get_backend_name() == "postgresql" else None
    return create_engine(parsed.set(database=admin_db), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


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


def drop_database(url: str) -> None:
    parsed = make_url(url)
    engine = _admin_engine(parsed)
    name = parsed.database
    try:
        with engine.connect() as connection:
            if parsed.get_backend_name() == "postgresql":
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        engine.dispose()


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
