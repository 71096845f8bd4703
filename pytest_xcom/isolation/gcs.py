"""Emulated Google Cloud Storage: gcp-storage-emulator on a loopback port, and the ``xcom_gcs`` fixture's object.

Why gcp-storage-emulator: it is pure Python (one dependency, google-crc32c), keeps objects in
memory, runs in this process (no container, no binary to download) and is maintained; the older
gcloud-storage-emulator is its unmaintained predecessor, and fake-gcs-server is a Go binary.

google-cloud-storage, gcsfs and Airflow's GCSHook all honour ``STORAGE_EMULATOR_HOST``; with
anonymous credentials (the connection's ``is_anonymous``, or none found) they reach the emulator
unchanged, with no credentials and no network.
"""

from __future__ import annotations

import http.server
import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xcom.isolation.loopback import LazyLoopbackServer

if TYPE_CHECKING:
    from pytest_xcom.isolation.services import MockedServices

GCS_CONN_ID = "pytest_xcom_gcs"
GCP_PROJECT = "pytest-xcom"
GOOGLE_CLOUD_DEFAULT = "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"
# Where real credentials or projects could come from: all hidden while a test runs.
HIDDEN_GCP = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
    "GCLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT",
    "GOOGLE_API_USE_CLIENT_CERTIFICATE",
)
UNREACHABLE_METADATA = "127.0.0.1:9"  # the GCE metadata server, were anything to ask it


def emulator_env(endpoint: str, home: Path) -> dict[str, str | None]:
    """Environment that sends Google Cloud clients to ``endpoint`` with no credentials."""
    return {
        **{name: None for name in HIDDEN_GCP},
        "STORAGE_EMULATOR_HOST": endpoint,
        "GOOGLE_CLOUD_PROJECT": GCP_PROJECT,
        "NO_GCE_CHECK": "true",  # google-auth and gcsfs: never probe for the metadata server
        "GCE_METADATA_HOST": UNREACHABLE_METADATA,
        "GCE_METADATA_IP": UNREACHABLE_METADATA,
        "CLOUDSDK_CONFIG": str(home / "no-such-gcloud-config"),  # no gcloud user credentials
    }


def gcp_connection_uri(endpoint: str) -> str:
    """An Airflow ``google_cloud_platform`` connection on ``endpoint``, anonymous, as an AIRFLOW_CONN_* value."""
    extra = {"is_anonymous": True, "project": GCP_PROJECT, "gcs.endpoint": endpoint}
    return json.dumps({"conn_type": "google_cloud_platform", "extra": extra})


class GCSEmulator(LazyLoopbackServer):
    """gcp-storage-emulator in a thread on 127.0.0.1, objects in memory, started when first needed."""

    what = "the GCS emulator (gcp-storage-emulator)"

    def __init__(self) -> None:
        super().__init__()
        self._storage: Any = None

    def _make_server(self, listener: socket.socket) -> Any:
        from gcp_storage_emulator.server import RequestHandler
        from gcp_storage_emulator.storage import Storage

        storage = Storage(use_memory_fs=True)

        def handler(*args: Any) -> Any:
            self._note_use()
            return RequestHandler(storage, *args)

        # The emulator's own server binds by itself; this one serves on the reserved socket.
        server = http.server.HTTPServer(listener.getsockname(), handler, bind_and_activate=False)
        server.socket.close()
        server.socket = listener
        self._storage = storage
        return server

    def _wipe(self) -> None:
        self._storage.wipe(keep_buckets=False)


class XComGCS:
    """What the ``xcom_gcs`` fixture gives a test: the emulated bucket and a google-cloud-storage client on it."""

    def __init__(self, services: MockedServices, bucket: str) -> None:
        self.endpoint_url = services.gcs_endpoint()
        self.client = services.gcs_client()
        services.ensure_gcs_bucket(bucket)
        self.bucket = bucket

    def keys(self, prefix: str = "") -> list[str]:
        """Sorted names of every object in the bucket under ``prefix``."""
        return sorted(blob.name for blob in self.client.list_blobs(self.bucket, prefix=prefix or None))

    def read(self, key: str) -> bytes:
        """The bytes of one object; a clear error listing the keys when it does not exist."""
        from google.api_core.exceptions import NotFound

        try:
            return self.client.bucket(self.bucket).blob(key).download_as_bytes()  # type: ignore[no-any-return]
        except NotFound:
            raise KeyError(
                f"no object {key!r} in the emulated bucket {self.bucket!r}; it holds: {self.keys() or 'nothing'}"
            ) from None

    def __repr__(self) -> str:
        return f"<XComGCS bucket={self.bucket!r} endpoint={self.endpoint_url}>"
