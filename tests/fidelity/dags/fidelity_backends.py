"""Custom XCom backends unlike the project's examples, one per fidelity case.

Plain side: ``AIRFLOW__CORE__XCOM_BACKEND=fidelity_backends.<Class>``; harness side:
``xcom.run(dag, backend="fidelity_backends.<Class>")``. Signatures as in the installed
``airflow.sdk.bases.xcom.BaseXCom`` (Airflow 3.3): static ``serialize_value(value, *, key,
task_id, dag_id, run_id, map_index)`` and ``deserialize_value(result)`` reading ``result.value``.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
from pathlib import Path
from typing import Any

from airflow.sdk.bases.xcom import BaseXCom
from fidelity_types import Frame


class PickleXCom(BaseXCom):
    """(a) Pickles anything: the row holds a base64 pickle string."""

    @staticmethod
    def serialize_value(value, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None):
        return base64.b64encode(pickle.dumps(value, protocol=4)).decode("ascii")

    @staticmethod
    def deserialize_value(result):
        return pickle.loads(base64.b64decode(result.value))


FRAME_PREFIX = "frame-csv:"


class FrameCsvXCom(BaseXCom):
    """(b) Stores a Frame (which Airflow's serde cannot serialize) as CSV text; the rest as BaseXCom does."""

    @staticmethod
    def serialize_value(value, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None):
        if isinstance(value, Frame):
            return FRAME_PREFIX + value.to_csv()
        return BaseXCom.serialize_value(value)

    @staticmethod
    def deserialize_value(result):
        if isinstance(result.value, str) and result.value.startswith(FRAME_PREFIX):
            return Frame.from_csv(result.value[len(FRAME_PREFIX):])
        return BaseXCom.deserialize_value(result)


REDIS_PREFIX = "redis-str://"


def _redis():
    import redis

    return redis.Redis(
        host=os.environ.get("FIDELITY_REDIS_HOST", "127.0.0.1"),
        port=int(os.environ.get("FIDELITY_REDIS_PORT", "6379")),
    )


class RedisStrXCom(BaseXCom):
    """(d) Keeps ``str(value)`` in Redis; the row holds the Redis key; readers get the string back."""

    @staticmethod
    def serialize_value(value, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None):
        redis_key = f"fidelity:{dag_id}:{run_id}:{task_id}:{map_index}:{key}"
        _redis().set(redis_key, str(value))
        return BaseXCom.serialize_value(REDIS_PREFIX + redis_key)

    @staticmethod
    def deserialize_value(result):
        reference = BaseXCom.deserialize_value(result)
        if not (isinstance(reference, str) and reference.startswith(REDIS_PREFIX)):
            return reference
        raw = _redis().get(reference[len(REDIS_PREFIX):])
        if raw is None:
            raise LookupError(f"{reference} is missing from Redis")
        return raw.decode()

    @staticmethod
    def purge(xcom, *args):
        reference = xcom.value
        if isinstance(reference, str) and reference.startswith(REDIS_PREFIX):
            _redis().delete(reference[len(REDIS_PREFIX):])


def xcom_dir() -> Path:
    return Path(os.environ["FIDELITY_XCOM_DIR"])


class FilePathXCom(BaseXCom):
    """(e) Writes the value to a local file; the row holds the path; readers get the PATH back."""

    @staticmethod
    def serialize_value(value, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None):
        path = xcom_dir() / str(dag_id) / str(run_id) / str(task_id) / str(map_index) / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(BaseXCom.serialize_value(value), sort_keys=True))
        return BaseXCom.serialize_value(str(path))

    @staticmethod
    def deserialize_value(result) -> Any:
        return BaseXCom.deserialize_value(result)  # the path, as such backends too often do


class FileStoreXCom(BaseXCom):
    """(q) Airflow 3.4's ``store_value`` / ``load_value``: each task instance's value in a file of
    its own (``XComCoordinate.build_path``: ``.../ti-<id>/<key>.json``); the row holds the path, and
    readers get the value. On a loop DAG Airflow accepts it where a legacy backend is refused."""

    @classmethod
    def store_value(cls, coordinate, key, value):
        path = Path(coordinate.build_path(str(xcom_dir()), key, suffix=".json"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(BaseXCom.serialize_value(value), sort_keys=True))
        return f"file-store:{path}"

    @classmethod
    def load_value(cls, stored):
        if isinstance(stored, str) and stored.startswith("file-store:"):
            return BaseXCom.deserialize_value(_Row(json.loads(Path(stored[len("file-store:"):]).read_text())))
        return super().load_value(stored)


class _Row:
    def __init__(self, value):
        self.value = value
