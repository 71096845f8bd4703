"""Emulated Azure Blob Storage: Azurite (Microsoft's emulator, a Node.js package) and the ``xcom_azure`` object.

Azurite runs as a child process on a loopback port, started the first time a test needs it and
stopped with the session; containers are deleted between tests. It is found on PATH
(``azurite-blob``), in ``$PYTEST_XCOM_AZURITE`` (the path of ``azurite-blob``), or where
``npm install --prefix <cache>/azurite azurite`` puts it under pytest-xcom's cache directory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pytest_xcom.errors import BackendError

if TYPE_CHECKING:
    from pytest_xcom.isolation.services import MockedServices

AZURE_CONN_ID = "pytest_xcom_azure"
WASB_DEFAULT = "AIRFLOW_CONN_WASB_DEFAULT"
AZURITE_VARIABLE = "PYTEST_XCOM_AZURITE"
TIMEOUT_VARIABLE = "PYTEST_XCOM_AZURITE_TIMEOUT"  # seconds Azurite may take to listen (default 60)
# Azurite's well-known development account (published in Microsoft's documentation; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# Where real credentials could come from (azure-identity, adlfs, the az CLI): hidden in tests.
HIDDEN_AZURE = (
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CLIENT_ID",
    "AZURE_STORAGE_CLIENT_SECRET",
    "AZURE_STORAGE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "IDENTITY_ENDPOINT",
    "MSI_ENDPOINT",
)
UNREACHABLE_BLOB_ENDPOINT = f"http://127.0.0.1:9/{ACCOUNT}"  # until Azurite runs: refused at once
INSTALL_HINT = (
    "install Azurite (Node.js >= 20): npm install -g azurite, or "
    "npm install --prefix {cache} azurite, or set PYTEST_XCOM_AZURITE to the path of azurite-blob"
)


def connection_string(blob_endpoint: str) -> str:
    """The connection string of Azurite's development account at ``blob_endpoint``."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};BlobEndpoint={blob_endpoint};"
    )


def wasb_connection_uri(conn_string: str) -> str:
    """An Airflow ``wasb`` connection with ``conn_string``, as an AIRFLOW_CONN_* value (WasbHook, abfs:// paths)."""
    return json.dumps({"conn_type": "wasb", "extra": {"connection_string": conn_string}})


def emulator_env(conn_string: str) -> dict[str, str | None]:
    """Environment that sends adlfs (and code reading the variable) to ``conn_string``, real credentials hidden."""
    return {**{name: None for name in HIDDEN_AZURE}, "AZURE_STORAGE_CONNECTION_STRING": conn_string}


class Azurite:
    """Azurite's blob service in a child process on 127.0.0.1, once per session, started when first needed."""

    def __init__(self, cache_dir: Path, timeout: float | None = None) -> None:
        self.cache_dir = cache_dir
        self.timeout = timeout if timeout is not None else float(os.environ.get(TIMEOUT_VARIABLE) or 60)
        self.connection_string: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._workspace: tempfile.TemporaryDirectory[str] | None = None
        self._command = "azurite-blob"

    @property
    def started(self) -> bool:
        return self._process is not None

    def executable(self) -> str | None:
        """The ``azurite-blob`` this machine has, or None."""
        configured = os.environ.get(AZURITE_VARIABLE)
        if configured:
            if not Path(configured).is_file():
                raise BackendError(f"{AZURITE_VARIABLE}={configured!r} is not a file: {self.install_hint()}")
            return configured
        cached = self.cache_dir / "azurite" / "node_modules" / ".bin" / "azurite-blob"
        return shutil.which("azurite-blob") or (str(cached) if cached.is_file() else None)

    def install_hint(self) -> str:
        return INSTALL_HINT.format(cache=self.cache_dir / "azurite")

    def ensure_started(self) -> str:
        """Start Azurite (once) and return its connection string; a clear error when it is missing or hangs."""
        if self.connection_string is not None:
            return self.connection_string
        executable = self.executable()
        if executable is None:
            raise BackendError(
                f"Azure Blob Storage is emulated with Azurite, which is not installed: {self.install_hint()}"
            )
        port = _free_port()
        self._workspace = tempfile.TemporaryDirectory(prefix="pytest-xcom-azurite-")
        self._log = open(Path(self._workspace.name) / "azurite.log", "w+b")  # noqa: SIM115 (closed in stop())
        command = [executable, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
                   "--skipApiVersionCheck", "--disableTelemetry", "--silent", "--extentMemoryLimit", "512"]
        self._command = executable
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self._workspace.name
        )
        self._wait_until_listening(port)
        self.connection_string = connection_string(f"http://127.0.0.1:{port}/{ACCOUNT}")
        return self.connection_string

    def _wait_until_listening(self, port: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            status = self._process.poll()
            if status is not None:
                output = self._output()
                self.stop()
                raise BackendError(f"Azurite exited with status {status} at start: {output}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        output = self._output()
        self.stop()
        raise BackendError(
            f"Azurite did not start listening on 127.0.0.1:{port} within {self.timeout:g} s "
            f"(its output: {output or 'nothing'}); check that `{self._command} --version` runs on this machine, "
            f"or give it longer with {TIMEOUT_VARIABLE}"
        )

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-2000:]

    def reset(self) -> None:
        """Delete every container an earlier test made."""
        if self.connection_string is None:
            return
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.connection_string)
        for container in client.list_containers():
            client.delete_container(container.name)

    def stop(self) -> None:
        process, self._process = self._process, None
        self.connection_string = None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workspace is not None:
            self._workspace.cleanup()
            self._workspace = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class XComAzure:
    """What the ``xcom_azure`` fixture gives a test: the emulated container and an azure-storage-blob client on it."""

    def __init__(self, services: MockedServices, container: str) -> None:
        self.connection_string = services.azure_connection_string()
        self.client = services.azure_client()
        services.ensure_azure_container(container)
        self.bucket = container

    def keys(self, prefix: str = "") -> list[str]:
        """Sorted names of every blob in the container under ``prefix``."""
        container = self.client.get_container_client(self.bucket)
        return sorted(blob.name for blob in container.list_blobs(name_starts_with=prefix or None))

    def read(self, key: str) -> bytes:
        """The bytes of one blob; a clear error listing the keys when it does not exist."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            data: Any = self.client.get_blob_client(self.bucket, key).download_blob().readall()
        except ResourceNotFoundError:
            raise KeyError(
                f"no object {key!r} in the emulated container {self.bucket!r}; it holds: {self.keys() or 'nothing'}"
            ) from None
        return bytes(data)

    def __repr__(self) -> str:
        return f"<XComAzure container={self.bucket!r}>"
