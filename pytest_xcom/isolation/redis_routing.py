"""Redis clients routed to the test's fakeredis server (or a parity run's real server).

Every ``redis.ConnectionPool`` made during a test (``Redis(host=...)``, ``Redis.from_url``,
Airflow's Redis hook) is handed a fakeredis connection instead of a socket; pools made before the
test are switched over on first use and back afterwards.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any


def _real_redis_options(url: str | None) -> dict[str, Any] | None:
    if not url:
        return None
    from redis.connection import parse_url

    options = parse_url(url)  # type: ignore[no-untyped-call]
    return {k: options[k] for k in ("host", "port", "db", "username", "password") if k in options}


# Connection options of real sockets that a fake connection does not take.
_SOCKET_ONLY_OPTIONS = ("path", "ssl_")


@contextlib.contextmanager
def redis_routed_to(fake_server: Callable[[], Any], real_url: str | None) -> Iterator[None]:
    """Every sync redis-py pool reaches this test's fake (or the parity run's server).

    Pools made during the test are built that way. Pools made before it (a module-level client
    created at import, or in an earlier test) are switched over the first time the test asks them
    for a connection, and switched back afterwards: otherwise they would reach whatever Redis
    their URL names, or another test's fake.
    """
    try:
        import redis
        from fakeredis import FakeConnection
    except ImportError:  # no redis client installed: nothing can reach a Redis server
        yield
        return

    real = _real_redis_options(real_url)
    token = object()  # marks the pools that already reach this test's server

    def routed(connection_class: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith(_SOCKET_ONLY_OPTIONS)}
        if real is not None:  # a parity run: whatever host the code names, the chosen server
            kwargs.pop("server", None)
            return redis.Connection, {**kwargs, **real}
        kwargs.setdefault("server", fake_server())  # a FakeRedis brings its own
        return FakeConnection, kwargs

    original_init = redis.ConnectionPool.__init__

    def routed_init(
        pool: Any, connection_class: Any = redis.Connection, max_connections: Any = None, **kwargs: Any
    ) -> None:
        connection_class, kwargs = routed(connection_class, kwargs)
        original_init(pool, connection_class=connection_class, max_connections=max_connections, **kwargs)
        pool._pytest_xcom_route = token

    switched: list[tuple[Any, Any, dict[str, Any]]] = []

    def switch_over(pool: Any) -> None:
        if getattr(pool, "_pytest_xcom_route", None) is token:
            return
        switched.append((pool, pool.connection_class, pool.connection_kwargs))
        pool.disconnect()
        pool.connection_class, pool.connection_kwargs = routed(pool.connection_class, pool.connection_kwargs)
        pool.reset()
        pool._pytest_xcom_route = token

    def wrap_get_connection(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def get_connection(pool: Any, *args: Any, **kwargs: Any) -> Any:
            switch_over(pool)
            return original(pool, *args, **kwargs)

        return get_connection

    pool_classes = [
        cls for cls in (redis.ConnectionPool, redis.BlockingConnectionPool) if "get_connection" in vars(cls)
    ]
    originals = {cls: vars(cls)["get_connection"] for cls in pool_classes}
    redis.ConnectionPool.__init__ = routed_init  # type: ignore[method-assign,assignment]
    for cls, original in originals.items():
        cls.get_connection = wrap_get_connection(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        redis.ConnectionPool.__init__ = original_init  # type: ignore[method-assign]
        for cls, original in originals.items():
            cls.get_connection = original  # type: ignore[method-assign]
        for pool, connection_class, kwargs in reversed(switched):
            pool.disconnect()
            pool.connection_class, pool.connection_kwargs = connection_class, kwargs
            pool.reset()
            pool._pytest_xcom_route = None
