"""The classic "S3 custom XCom backend": every value goes to S3, the DB row keeps its URI.

Written exactly as for production: plain boto3 with the default credential chain and no
endpoint override. Under pytest-xcom, boto3 reaches moto's S3 mock with fake credentials.

From Airflow 3.4, Airflow stores through ``store_value``: its coordinate names the task instance
attempt (``ti_id``), and Airflow keeps an earlier attempt's row, so each attempt (and each
iteration of a task loop) needs an object of its own; ``serialize_value`` is what Airflow 3.0-3.3
and 2.x call (the backend contract's retry and clear checks hold each release to its rule).
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from xcom_backends._compat import BaseXCom, dump, load, reference_of

URI_PREFIX = "s3://"


def _bucket() -> str:
    return os.environ.get("XCOM_S3_BUCKET", "company-xcom")


class S3XComBackend(BaseXCom):
    @classmethod
    def store_value(cls, coordinate: Any, key: str, value: Any) -> Any:
        """Airflow 3.4: ``xcom/<dag>/<run>/<task>/ti-<attempt id>/<key>.json``, one object per attempt."""
        object_key = coordinate.build_path("xcom", key, suffix=".json")
        boto3.client("s3").put_object(Bucket=_bucket(), Key=object_key, Body=dump(value))
        return f"{URI_PREFIX}{_bucket()}/{object_key}"

    @classmethod
    def load_value(cls, stored: Any) -> Any:
        if isinstance(stored, str) and stored.startswith(URI_PREFIX):
            return _fetch(stored)
        return super().load_value(stored)

    @staticmethod
    def serialize_value(value: Any, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None) -> Any:
        object_key = f"xcom/{dag_id}/{run_id}/{task_id}/{map_index}/{key}.json"
        boto3.client("s3").put_object(Bucket=_bucket(), Key=object_key, Body=dump(value))
        return BaseXCom.serialize_value(f"{URI_PREFIX}{_bucket()}/{object_key}")

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        reference = BaseXCom.deserialize_value(result)
        if not (isinstance(reference, str) and reference.startswith(URI_PREFIX)):
            return reference
        return _fetch(reference)

    @staticmethod
    def purge(xcom: Any, *args: Any) -> None:
        reference = reference_of(xcom)
        if isinstance(reference, str) and reference.startswith(URI_PREFIX):
            bucket, _, object_key = reference[len(URI_PREFIX):].partition("/")
            boto3.client("s3").delete_object(Bucket=bucket, Key=object_key)



def _fetch(reference: str) -> Any:
    bucket, _, object_key = reference[len(URI_PREFIX):].partition("/")
    return load(boto3.client("s3").get_object(Bucket=bucket, Key=object_key)["Body"].read())
