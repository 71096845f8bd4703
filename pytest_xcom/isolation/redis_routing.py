"""Redis clients routed to the test's fakeredis server (or a parity run's real server).

Every ``redis.ConnectionPool`` used during a test (``Redis(host=...)``, ``Redis.from_url``,
Airflow's Redis hook, whenever the client was made) hands out fakeredis connections instead of
sockets, and goes back to what it names after the test. This module imports redis: import it
only when a test needs Redis (``services`` does), not when the plugin loads.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import redis


def _real_redis_options(url: str | None) -> dict[str, Any] | None:
    if not url:
        return None
    from redis.connection import parse_url

    options = parse_url(url)  # type: ignore[no-untyped-call]
    return {k: options[k] for k in ("host", "port", "db", "username", "password") if k in options}


def fake_connection_class() -> Any:
    """fakeredis's connection class (newer releases keep ``FakeConnection`` as a deprecated factory)."""
    import fakeredis

    return getattr(fakeredis, "FakeRedisConnection", None) or fakeredis.FakeConnection


def database_index(db: Any) -> Any:
    """The database a connection's ``db`` selects: redis-py sends no SELECT for ``None`` (or 0)."""
    if db is None:
        return 0
    if isinstance(db, str) and db.strip().isdigit():  # a connection extra's "db": "2"
        return int(db)
    return db


class XComRedis(redis.Redis):
    """The ``xcom_redis`` fixture: a redis-py client on database 0 of the server task code reaches.

    ``db(n)`` is a client of the same server on database ``n``.
    """

    _xcom_databases: Callable[[int], XComRedis]
    _xcom_where: str

    @classmethod
    def on_fake(cls, server: Any, db: int = 0) -> XComRedis:
        """A client of one fakeredis server, through the same connection class routed clients get."""
        pool = redis.ConnectionPool(connection_class=fake_connection_class(), server=server, db=db)
        return cls._made(pool, functools.partial(cls.on_fake, server), "the test's fakeredis server")

    @classmethod
    def on_url(cls, url: str, db: int | None = None) -> XComRedis:
        """A client of a real server (a parity run's ``--xcom-redis-url``)."""
        pool = redis.ConnectionPool.from_url(url, **({} if db is None else {"db": db}))
        options = _real_redis_options(url) or {}
        where = f"redis://{options.get('host')}:{options.get('port', 6379)}"
        return cls._made(pool, functools.partial(cls.on_url, url), where)

    @classmethod
    def _made(cls, pool: redis.ConnectionPool, databases: Callable[[int], XComRedis], where: str) -> XComRedis:
        client = cls(connection_pool=pool)
        client._xcom_databases = databases
        client._xcom_where = where
        return client

    def db(self, n: int) -> XComRedis:
        """A client of the same server on database ``n``."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"xcom_redis.db(n): n is a database number (0, 1, ...), not {n!r}")
        return self._xcom_databases(n)

    def __repr__(self) -> str:
        db = database_index(self.connection_pool.connection_kwargs.get("db"))
        return f"<XComRedis: {self._xcom_where}, database {db}>"


# Connection options of real sockets that a fake connection does not take.
_SOCKET_ONLY_OPTIONS = ("path", "ssl_")
# Attributes this module puts on redis-py objects.
_ROUTE = "_pytest_xcom_route"  # on pools and connections: the routing they follow now
_HOME = "_pytest_xcom_home"  # on pools: the connection class and options they had before


class PoolSwitch:
    """The pools one test's routing switched over, and how to put each back afterwards.

    ``routed(connection_class, kwargs)`` gives a pool's connection class and options for this test
    from the ones it had before (its home). ``disconnect`` closes a pool's live connections: given
    for sync pools; an asyncio pool's is awaited by the caller before it switches the pool.
    """

    def __init__(
        self, routed: Callable[[Any, dict[str, Any]], tuple[Any, dict[str, Any]]],
        disconnect: Callable[[Any], object] | None = None,
    ) -> None:  # fmt: skip
        self.token = object()  # marks the pools and connections that reach this test's server
        self.lock = threading.RLock()
        self._routed = routed
        self._disconnect = disconnect
        self._switched: list[Any] = []

    def routes(self, pool_or_connection: Any) -> bool:
        return getattr(pool_or_connection, _ROUTE, None) is self.token

    def switch_over(self, pool: Any) -> None:
        with self.lock:
            if self.routes(pool):
                return
            # A pool made during an earlier test still has that test's routing and its home.
            home = getattr(pool, _HOME, None) or (pool.connection_class, dict(pool.connection_kwargs))
            if self._disconnect is not None:
                self._disconnect(pool)
            pool.connection_class, pool.connection_kwargs = self._routed(*home)
            pool.reset()
            setattr(pool, _HOME, home)
            setattr(pool, _ROUTE, self.token)
            self._switched.append(pool)

    def restore(self) -> None:
        for pool in reversed(self._switched):
            if self._disconnect is not None:
                self._disconnect(pool)
            pool.connection_class, pool.connection_kwargs = getattr(pool, _HOME)
            pool.reset()
            delattr(pool, _HOME)
            setattr(pool, _ROUTE, None)


@contextlib.contextmanager
def redis_routed_to(
    fake_server: Callable[[], Any], real_url: str | None, real_connection: type[redis.Connection] = redis.Connection
) -> Iterator[None]:
    """Every sync redis-py pool reaches this test's fake (or the parity run's server).

    A pool is switched over when it is made, or, if it was made earlier (a module-level client
    created at import, or in an earlier test), the first time the test asks it for a connection;
    every switched pool goes back to its own host and port afterwards. A single-connection client
    holding a connection from before the test gets one of the test's server on its first command,
    and its own back afterwards.
    """
    real = _real_redis_options(real_url)

    def routed(connection_class: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith(_SOCKET_ONLY_OPTIONS)}
        if real is not None:  # a parity run: whatever host the code names, the chosen server
            kwargs.pop("server", None)
            return real_connection, {**kwargs, **real}
        # fakeredis keeps a keyspace per distinct ``db`` value: None must be database 0, as on Redis
        kwargs["db"] = database_index(kwargs.get("db"))
        kwargs.setdefault("server", fake_server())  # a FakeRedis brings its own
        # Imported with the first pool: a test that makes no Redis client does not pay for fakeredis.
        return fake_connection_class(), kwargs

    pools = PoolSwitch(routed, disconnect=lambda pool: pool.disconnect())
    rebound: list[tuple[Any, Any]] = []

    def rebind(client: Any) -> None:
        """A single-connection client's connection, from before the test: one of this test's instead."""
        held = getattr(client, "connection", None)
        if held is None or pools.routes(held):
            return
        with pools.lock:
            if client.connection is held:
                client.connection = client.connection_pool.get_connection()
                rebound.append((client, held))

    original_init = redis.ConnectionPool.__init__

    def routed_init(pool: Any, *args: Any, **kwargs: Any) -> None:
        original_init(pool, *args, **kwargs)
        pools.switch_over(pool)

    def wrap_get_connection(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def get_connection(pool: Any, *args: Any, **kwargs: Any) -> Any:
            pools.switch_over(pool)
            connection = original(pool, *args, **kwargs)
            with contextlib.suppress(AttributeError):
                setattr(connection, _ROUTE, pools.token)
            return connection

        return get_connection

    original_execute: Callable[..., Any] = redis.Redis.execute_command

    @functools.wraps(original_execute)
    def execute_command(client: Any, *args: Any, **options: Any) -> Any:
        rebind(client)
        return original_execute(client, *args, **options)

    pool_classes = [
        cls for cls in (redis.ConnectionPool, redis.BlockingConnectionPool) if "get_connection" in vars(cls)
    ]
    originals = {cls: vars(cls)["get_connection"] for cls in pool_classes}
    redis.ConnectionPool.__init__ = routed_init  # type: ignore[method-assign,assignment]
    redis.Redis.execute_command = execute_command  # type: ignore[method-assign,assignment]
    for cls in pool_classes:
        cls.get_connection = wrap_get_connection(originals[cls])  # type: ignore[method-assign]
    try:
        yield
    finally:
        redis.ConnectionPool.__init__ = original_init  # type: ignore[method-assign]
        redis.Redis.execute_command = original_execute  # type: ignore[method-assign]
        for cls, original in originals.items():
            cls.get_connection = original  # type: ignore[method-assign]
        pools.restore()
        for client, held in reversed(rebound):
            client.connection = held
