"""The classic "S3 custom XCom backend": every value goes to S3, the DB row keeps its URI.

Written exactly as for production: plain boto3 with the default credential chain and no
endpoint override. Under pytest-xcom, boto3 reaches moto's S3 mock with fake credentials.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from airflow.sdk.bases.xcom import BaseXCom

URI_PREFIX = "s3://"


def _bucket() -> str:
    return os.environ.get("XCOM_S3_BUCKET", "company-xcom")


class S3XComBackend(BaseXCom):
    @staticmethod
    def serialize_value(value: Any, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None) -> Any:
        object_key = f"xcom/{dag_id}/{run_id}/{task_id}/{map_index}/{key}.json"
        payload = json.dumps(BaseXCom.serialize_value(value)).encode()
        boto3.client("s3").put_object(Bucket=_bucket(), Key=object_key, Body=payload)
        return BaseXCom.serialize_value(f"{URI_PREFIX}{_bucket()}/{object_key}")

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        reference = BaseXCom.deserialize_value(result)
        if not (isinstance(reference, str) and reference.startswith(URI_PREFIX)):
            return reference
        bucket, _, object_key = reference[len(URI_PREFIX):].partition("/")
        body = boto3.client("s3").get_object(Bucket=bucket, Key=object_key)["Body"].read()
        return BaseXCom.deserialize_value(_Stored(json.loads(body)))

    @staticmethod
    def purge(xcom: Any, *args: Any) -> None:
        reference = xcom.value
        if isinstance(reference, str) and reference.startswith(URI_PREFIX):
            bucket, _, object_key = reference[len(URI_PREFIX):].partition("/")
            boto3.client("s3").delete_object(Bucket=bucket, Key=object_key)


class _Stored:
    """The shape BaseXCom.deserialize_value reads: an object with a ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value
