"""The classic "S3 custom XCom backend": every value goes to S3, the DB row keeps its URI.

Written exactly as for production: plain boto3 with the default credential chain and no
endpoint override. Under pytest-xcom, boto3 reaches moto's S3 mock with fake credentials.
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
        bucket, _, object_key = reference[len(URI_PREFIX):].partition("/")
        body = boto3.client("s3").get_object(Bucket=bucket, Key=object_key)["Body"].read()
        return load(body)

    @staticmethod
    def purge(xcom: Any, *args: Any) -> None:
        reference = reference_of(xcom)
        if isinstance(reference, str) and reference.startswith(URI_PREFIX):
            bucket, _, object_key = reference[len(URI_PREFIX):].partition("/")
            boto3.client("s3").delete_object(Bucket=bucket, Key=object_key)

