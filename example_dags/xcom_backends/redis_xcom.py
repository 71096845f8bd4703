"""An "exclusive" Redis XCom backend: a value is meant for one consumer and is gone once read.

Production points ``XCOM_REDIS_URL`` at the team's Redis. Under pytest-xcom any Redis client
(whatever host and port) reaches a per-test fakeredis server instead.
"""

from __future__ import annotations

import json
import os
from typing import Any

import redis
from airflow.sdk.bases.xcom import BaseXCom

URI_PREFIX = "redis-xcom://"


def _client() -> redis.Redis:
    return redis.Redis.from_url(os.environ.get("XCOM_REDIS_URL", "redis://redis.internal.example:6379/0"))


class ExclusiveRedisXCom(BaseXCom):
    @staticmethod
    def serialize_value(value: Any, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None) -> Any:
        redis_key = f"xcom:{dag_id}:{run_id}:{task_id}:{map_index}:{key}"
        _client().set(redis_key, json.dumps(BaseXCom.serialize_value(value)), ex=24 * 3600)
        return BaseXCom.serialize_value(f"{URI_PREFIX}{redis_key}")

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        reference = BaseXCom.deserialize_value(result)
        if not (isinstance(reference, str) and reference.startswith(URI_PREFIX)):
            return reference
        redis_key = reference[len(URI_PREFIX):]
        raw = _client().getdel(redis_key)  # exclusive: the first reader takes it
        if raw is None:
            raise LookupError(f"XCom {redis_key!r} is gone: it was already read, or it expired")
        return BaseXCom.deserialize_value(_Stored(json.loads(raw)))

    @staticmethod
    def purge(xcom: Any, *args: Any) -> None:
        reference = xcom.value
        if isinstance(reference, str) and reference.startswith(URI_PREFIX):
            _client().delete(reference[len(URI_PREFIX):])


class _Stored:
    def __init__(self, value: Any) -> None:
        self.value = value
