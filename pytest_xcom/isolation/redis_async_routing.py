"""``redis.asyncio`` clients routed to the test's fakeredis server, as the sync ones are.

Every ``redis.asyncio.ConnectionPool`` used during a test (``Redis(host=...)``, ``Redis.from_url``,
made during the test or before it) hands out fakeredis connections of the same server the sync
clients reach, whatever host it names, and goes back to what it names after the test. With a
real server (``--xcom-redis-url``) the writes of async clients could not be undone, so they are
refused with an error that says so instead of reaching the server. Import it only when a test
needs Redis (``services`` does).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import redis.asyncio
import redis.exceptions

from pytest_xcom.isolation.redis_routing import _SOCKET_ONLY_OPTIONS, PoolSwitch, database_index

REFUSED = (
    "pytest-xcom: redis.asyncio clients are not routed to a real Redis server (--xcom-redis-url): "
    "their writes could not be undone after the test. Use a redis.Redis (sync) client there, or run "
    "without --xcom-redis-url to reach the test's fakeredis server."
)


class _RefusedConnection(redis.asyncio.Connection):
    async def connect(self, *args: Any, **kwargs: Any) -> None:
        raise redis.exceptions.ConnectionError(REFUSED)


def _fake_connection_class() -> Any:
    from fakeredis import aioredis

    return getattr(aioredis, "FakeAsyncRedisConnection", None) or aioredis.FakeConnection


@contextlib.contextmanager
def async_redis_routed_to(fake_server: Callable[[], Any], real_url: str | None) -> Iterator[None]:
    """Every ``redis.asyncio`` pool reaches this test's fake server (refused on a parity run's real one).

    A pool is switched over when it is made or, if it was made earlier, the first time the test asks
    it for a connection (its old connections are closed first); every switched pool goes back to
    its own host and port afterwards.
    """

    def routed(connection_class: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith(_SOCKET_ONLY_OPTIONS)}
        if real_url:
            return _RefusedConnection, kwargs
        kwargs["db"] = database_index(kwargs.get("db"))
        kwargs.setdefault("server", fake_server())
        return _fake_connection_class(), kwargs

    pools = PoolSwitch(routed)  # an asyncio pool's disconnect is awaited below, before switching

    original_init = redis.asyncio.ConnectionPool.__init__

    def routed_init(pool: Any, *args: Any, **kwargs: Any) -> None:
        original_init(pool, *args, **kwargs)
        pools.switch_over(pool)

    def wrap_get_connection(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        async def get_connection(pool: Any, *args: Any, **kwargs: Any) -> Any:
            if not pools.routes(pool):
                await pool.disconnect()  # connections of what it named before this test
                pools.switch_over(pool)
            return await original(pool, *args, **kwargs)

        return get_connection

    pool_classes = [
        cls
        for cls in (redis.asyncio.ConnectionPool, redis.asyncio.BlockingConnectionPool)
        if "get_connection" in vars(cls)
    ]
    originals = {cls: vars(cls)["get_connection"] for cls in pool_classes}
    redis.asyncio.ConnectionPool.__init__ = routed_init  # type: ignore[method-assign,assignment]
    for cls in pool_classes:
        cls.get_connection = wrap_get_connection(originals[cls])  # type: ignore[method-assign]
    try:
        yield
    finally:
        redis.asyncio.ConnectionPool.__init__ = original_init  # type: ignore[method-assign]
        for cls, original in originals.items():
            cls.get_connection = original  # type: ignore[method-assign]
        pools.restore()  # fake connections hold no socket: dropping them is closing them
