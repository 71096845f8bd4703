"""An "Azure Blob Storage custom XCom backend": every value goes to a container, the DB row keeps its URI.

Written exactly as for production: azure-storage-blob with the account's connection string from
``AZURE_STORAGE_CONNECTION_STRING``. Under pytest-xcom that string names Azurite, the emulator.

From Airflow 3.4, Airflow stores through ``store_value``, whose coordinate names the task instance
attempt: one object per attempt (Airflow keeps an earlier attempt's row); ``serialize_value`` is
what Airflow 3.0-3.3 call.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow.sdk.bases.xcom import BaseXCom
from azure.storage.blob import BlobServiceClient

URI_PREFIX = "azure://"


def _container() -> str:
    return os.environ.get("XCOM_AZURE_CONTAINER", "company-xcom")


def _blob(reference: str) -> Any:
    container, _, name = reference[len(URI_PREFIX) :].partition("/")
    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    return service.get_blob_client(container, name)


class AzureXComBackend(BaseXCom):
    @classmethod
    def store_value(cls, coordinate: Any, key: str, value: Any) -> Any:
        """Airflow 3.4: ``.../<task>/ti-<attempt id>/<key>.json``, one object per task instance attempt."""
        reference = f"{URI_PREFIX}{_container()}/{coordinate.build_path('xcom', key, suffix='.json')}"
        _blob(reference).upload_blob(json.dumps(BaseXCom.serialize_value(value)), overwrite=True)
        return reference

    @classmethod
    def load_value(cls, stored: Any) -> Any:
        if isinstance(stored, str) and stored.startswith(URI_PREFIX):
            return _fetch(stored)
        return super().load_value(stored)

    @staticmethod
    def serialize_value(value: Any, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None) -> Any:
        reference = f"{URI_PREFIX}{_container()}/xcom/{dag_id}/{run_id}/{task_id}/{map_index}/{key}.json"
        _blob(reference).upload_blob(json.dumps(BaseXCom.serialize_value(value)), overwrite=True)
        return BaseXCom.serialize_value(reference)

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        reference = BaseXCom.deserialize_value(result)
        if not (isinstance(reference, str) and reference.startswith(URI_PREFIX)):
            return reference
        return _fetch(reference)

    @staticmethod
    def purge(xcom: Any, *args: Any) -> None:
        reference = xcom.value
        if isinstance(reference, str) and reference.startswith(URI_PREFIX):
            _blob(reference).delete_blob()


def _fetch(reference: str) -> Any:
    return BaseXCom.deserialize_value(_Stored(json.loads(_blob(reference).download_blob().readall())))


class _Stored:
    """The shape BaseXCom.deserialize_value reads: an object with a ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value
