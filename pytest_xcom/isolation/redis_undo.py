"""Parity runs on a real Redis (``--xcom-redis-url``): undo exactly what this test's clients wrote.

Keys are judged by the commands the harness's routed connections send, never by comparing the
server's keyspace before and after: another client (or another xdist worker) writing at the same
time is never touched. Before a routed client first writes a key, its old value (``DUMP`` and
``PTTL``) is kept; after the test each such key is restored, or deleted if it did not exist.
Commands sent in a pipeline or a transaction (``send_packed_command``) are not seen.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import redis

# Commands that change the key in their first argument.
_FIRST_KEY = frozenset(
    """
    SET SETEX PSETEX SETNX GETSET GETDEL GETEX APPEND SETRANGE SETBIT INCR INCRBY INCRBYFLOAT DECR
    DECRBY EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST HSET HSETNX HMSET HDEL HINCRBY HINCRBYFLOAT
    LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LSET LREM LTRIM LINSERT LMOVE RPOPLPUSH SADD SREM SPOP ZADD
    ZREM ZINCRBY ZPOPMIN ZPOPMAX ZREMRANGEBYSCORE ZREMRANGEBYRANK XADD XDEL XTRIM PFADD JSON.SET
    JSON.DEL RESTORE
    """.split()
)
# Commands whose every argument is a key, and those with keys in argument pairs (key value ...).
_ALL_KEYS = frozenset({"DEL", "UNLINK"})
_PAIRED_KEYS = frozenset({"MSET", "MSETNX"})
# Commands with a second key that changes: the destination.
_SECOND_KEY_TOO = frozenset({"RENAME", "RENAMENX", "COPY", "SMOVE", "LMOVE", "RPOPLPUSH"})


def _text(arg: Any) -> str:
    return arg.decode() if isinstance(arg, bytes) else str(arg)


def written_keys(args: tuple[Any, ...]) -> list[Any]:
    """The keys a Redis command writes (empty for reads and commands it does not know)."""
    if not args:
        return []
    name = _text(args[0]).upper()
    rest = args[1:]
    if name in _ALL_KEYS:
        return list(rest)
    if name in _PAIRED_KEYS:
        return list(rest[::2])
    keys = list(rest[:1]) if name in _FIRST_KEY or name in _SECOND_KEY_TOO else []
    if name in _SECOND_KEY_TOO and len(rest) > 1:
        keys.append(rest[1])
    return keys


class RedisUndoLog:
    """The old value of every key this test's routed clients wrote on the real server."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._before: dict[bytes, tuple[bytes | None, int]] = {}
        self._reader: redis.Redis | None = None

    def _client(self) -> redis.Redis:
        if self._reader is None:
            self._reader = redis.Redis.from_url(self._url)
        return self._reader

    def before_write(self, keys: Iterable[Any]) -> None:
        """Keep the value of keys about to be written for the first time in this test."""
        with self._lock:
            for key in keys:
                name = key if isinstance(key, bytes) else str(key).encode()
                if name not in self._before:
                    client = self._client()
                    self._before[name] = (client.dump(name), int(client.pttl(name)))

    def connection_class(self) -> type[redis.Connection]:
        """A real connection class that notes every key it is about to write."""
        log = self

        class UndoLoggingConnection(redis.Connection):
            def send_command(self, *args: Any, **kwargs: Any) -> None:
                keys = written_keys(args)
                if keys:
                    log.before_write(keys)
                super().send_command(*args, **kwargs)  # type: ignore[no-untyped-call]

        return UndoLoggingConnection

    def undo(self) -> None:
        """Put every written key back as it was (deleting the ones that did not exist)."""
        with self._lock:
            before, self._before = self._before, {}
        if not before:
            return
        client = redis.Redis.from_url(self._url)  # made after the routing is gone: a plain client
        try:
            for name, (dumped, ttl) in before.items():
                if dumped is None:
                    client.delete(name)
                else:
                    client.restore(name, max(ttl, 0), dumped, replace=True)
        finally:
            client.close()
            if self._reader is not None:
                self._reader.close()
                self._reader = None
