"""A Redis XCom backend: each XCom in its own Redis key with a TTL; the DB row keeps the key.

"Exclusive" as teams use the word: every XCom has a key of its own (task, map index and key in
it), so no two XComs share storage, and clearing or retrying a task purges exactly its keys.
From Airflow 3.4, Airflow stores through ``store_value``, whose coordinate names the task instance
attempt (``ti_id``): every iteration of a task loop and every attempt gets a key of its own, and an
earlier attempt's key stays with that attempt (Airflow keeps its row); ``serialize_value`` is what
Airflow 3.0-3.3 and 2.x call.
Which tasks may *read* a value is checked by the tests (``run.assert_exclusive``), not enforced
by deleting on first read: a read-once store breaks mapped fan-outs, where every mapped instance
reads the same upstream value (the backend contract shows it).

Production points ``XCOM_REDIS_URL`` at the team's Redis. Under pytest-xcom any Redis client
(whatever host and port) reaches a per-test fakeredis server instead.
"""

from __future__ import annotations

import os
from typing import Any

import redis

from xcom_backends._compat import BaseXCom, dump, load, reference_of

URI_PREFIX = "redis-xcom://"


def _client() -> redis.Redis:
    return redis.Redis.from_url(os.environ.get("XCOM_REDIS_URL", "redis://redis.internal.example:6379/0"))


class ExclusiveRedisXCom(BaseXCom):
    @classmethod
    def store_value(cls, coordinate: Any, key: str, value: Any) -> Any:
        """Airflow 3.4: ``xcom:<dag>:<run>:<task>:ti-<attempt id>:<key>``, one key per task instance attempt."""
        redis_key = "xcom:" + coordinate.build_path("", key).replace("/", ":")
        _client().set(redis_key, dump(value), ex=24 * 3600)
        return f"{URI_PREFIX}{redis_key}"

    @classmethod
    def load_value(cls, stored: Any) -> Any:
        if isinstance(stored, str) and stored.startswith(URI_PREFIX):
            return _fetch(stored[len(URI_PREFIX):])
        return super().load_value(stored)

    @staticmethod
    def serialize_value(value: Any, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None) -> Any:
        redis_key = f"xcom:{dag_id}:{run_id}:{task_id}:{map_index}:{key}"
        _client().set(redis_key, dump(value), ex=24 * 3600)
        return BaseXCom.serialize_value(f"{URI_PREFIX}{redis_key}")

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        reference = BaseXCom.deserialize_value(result)
        if not (isinstance(reference, str) and reference.startswith(URI_PREFIX)):
            return reference
        return _fetch(reference[len(URI_PREFIX):])

    @staticmethod
    def purge(xcom: Any, *args: Any) -> None:
        reference = reference_of(xcom)
        if isinstance(reference, str) and reference.startswith(URI_PREFIX):
            _client().delete(reference[len(URI_PREFIX):])


def _fetch(redis_key: str) -> Any:
    raw = _client().get(redis_key)
    if raw is None:
        raise LookupError(f"XCom {redis_key!r} is missing from Redis: it expired or was purged")
    return load(raw)
