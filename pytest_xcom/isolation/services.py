"""The mocked services of one test: S3 (moto), GCS (an emulator) and Redis (fakeredis), fresh for every test.

With real services (a parity run: ``--xcom-s3-endpoint``, ``--xcom-gcs-endpoint``,
``--xcom-redis-url``) the same routing points at those instead.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xcom.errors import XComError
from pytest_xcom.isolation.azure import (
    UNREACHABLE_BLOB_ENDPOINT,
    WASB_DEFAULT,
    Azurite,
    connection_string,
    wasb_connection_uri,
)
from pytest_xcom.isolation.azure import emulator_env as azure_env
from pytest_xcom.isolation.gcs import GCP_PROJECT, GOOGLE_CLOUD_DEFAULT, GCSEmulator, emulator_env, gcp_connection_uri
from pytest_xcom.isolation.s3 import (
    FAKE_CREDENTIALS,
    HIDDEN_AWS,
    S3_CONN_ID,
    UNREACHABLE_ENDPOINT,
    MotoServer,
)

if TYPE_CHECKING:
    from pytest_xcom.isolation.redis_routing import XComRedis
    from pytest_xcom.isolation.redis_undo import RedisUndoLog

__all__ = ["S3_CONN_ID", "MockedServices", "RealServices"]

# The connections backends and hooks use when they name none, made to point at the fakes while a
# test runs, unless the environment (or the test, before the fixtures) defines its own.
AWS_DEFAULT = "AIRFLOW_CONN_AWS_DEFAULT"
REDIS_DEFAULT = "AIRFLOW_CONN_REDIS_DEFAULT"
# redis_default's host and port: Redis clients reach the fake whatever they name; one that is not
# routed (redis.asyncio) is refused at once rather than reaching a Redis on this machine.
UNREACHABLE_REDIS = ("127.0.0.1", 9)


@dataclass(frozen=True)
class RealServices:
    """Real services a parity run asked for instead of the fakes (``--xcom-redis-url``, ``--xcom-s3-endpoint``, ...)."""

    redis_url: str | None = None
    s3_endpoint: str | None = None
    gcs_endpoint: str | None = None
    azure_connection_string: str | None = None


@dataclass
class MockedServices:
    """The fakes of one test: the S3 mock (shared server, state reset) and a fakeredis server.

    With ``real`` services, S3 calls go to that endpoint with the environment's own credentials,
    and Redis clients to that server; keys a test adds there are removed after it.
    """

    moto: MotoServer
    home: Path
    real: RealServices = field(default_factory=RealServices)
    gcs: GCSEmulator | None = None  # None: Google Cloud clients get no emulator (and no credentials)
    azurite: Azurite | None = None  # None: Azure clients get an unreachable loopback endpoint
    redis_server: Any = None
    s3_ready: bool = False
    gcs_ready: bool = False
    _env: dict[str, str | None] = field(default_factory=dict)
    _defaults: dict[str, str] = field(default_factory=dict)  # the default connections this test got from us

    def s3_endpoint(self) -> str:
        """Start (or reuse) the S3 mock, reset when this test began, or the real endpoint; AWS SDKs reach it."""
        if not self.s3_ready:
            endpoint = self.real.s3_endpoint or self.moto.ensure_started()
            self.s3_ready = True
            self._set_env({"AWS_ENDPOINT_URL": endpoint})
        return os.environ["AWS_ENDPOINT_URL"]

    def s3_client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_endpoint())  # credentials from the environment

    def ensure_bucket(self, bucket: str) -> None:
        client = self.s3_client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)

    def gcs_endpoint(self) -> str:
        """Start (or reuse) the GCS emulator, reset when this test began, or the real endpoint; GCS clients reach it."""
        if not self.gcs_ready:
            if self.real.gcs_endpoint:
                endpoint = self.real.gcs_endpoint
            elif self.gcs is not None:
                endpoint = self.gcs.ensure_started()
            else:
                raise RuntimeError("these mocked services were made without a GCS emulator (MockedServices(gcs=...))")
            self.gcs_ready = True
            self._set_env({"STORAGE_EMULATOR_HOST": endpoint})
        return os.environ["STORAGE_EMULATOR_HOST"]

    def gcs_client(self) -> Any:
        """A google-cloud-storage client on the emulator, anonymous."""
        # Imported by name: google-cloud-storage ships no type information mypy can follow.
        storage: Any = importlib.import_module("google.cloud.storage")
        anonymous: Any = importlib.import_module("google.auth.credentials").AnonymousCredentials
        options = {"api_endpoint": self.gcs_endpoint()}
        return storage.Client(project=GCP_PROJECT, credentials=anonymous(), client_options=options)

    def gcs_connection_uri(self) -> str:
        """The Airflow ``google_cloud_platform`` connection on the GCS endpoint (started now), anonymous."""
        return gcp_connection_uri(self.gcs_endpoint())

    def ensure_gcs_bucket(self, bucket: str) -> None:
        from google.api_core.exceptions import Conflict

        client = self.gcs_client()
        with contextlib.suppress(Conflict):
            client.create_bucket(bucket)

    def azure_connection_string(self) -> str:
        """Start (or reuse) Azurite, or the real service; azure clients and wasb_default reach it from now on."""
        if self.real.azure_connection_string:
            return self.real.azure_connection_string
        if self.azurite is None:
            raise RuntimeError("these mocked services were made without Azurite (MockedServices(azurite=...))")
        started = self.azurite.started
        conn_string = self.azurite.ensure_started()
        if not started:  # the defaults of this test were written before Azurite ran
            self._point_azure_at(conn_string)
        return conn_string

    def start_azurite_if_installed(self) -> None:
        """Azurite for a user's backend that may use Azure: started only where it is installed and runs."""
        if self.azurite is None or self.real.azure_connection_string:
            return
        with contextlib.suppress(XComError, ImportError):  # xcom_azure and the "azure" backend say why
            if self.azurite.executable() is not None:
                self.azure_connection_string()

    def azure_client(self) -> Any:
        """An azure-storage-blob service client on Azurite (or the real service)."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.azure_connection_string())

    def ensure_azure_container(self, container: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self.azure_client().create_container(container)

    def _azure_reachable(self) -> str:
        """The connection string Azure clients get at a test's start: Azurite's once it runs, else refused at once."""
        if self.real.azure_connection_string:
            return self.real.azure_connection_string
        if self.azurite is not None and self.azurite.connection_string:
            return self.azurite.connection_string
        return connection_string(UNREACHABLE_BLOB_ENDPOINT)

    def _point_azure_at(self, conn_string: str) -> None:
        self._set_env(azure_env(conn_string))
        if WASB_DEFAULT in self._defaults and os.environ.get(WASB_DEFAULT) == self._defaults[WASB_DEFAULT]:
            self._defaults[WASB_DEFAULT] = wasb_connection_uri(conn_string)
            self._set_env({WASB_DEFAULT: self._defaults[WASB_DEFAULT]})

    def aws_connection_uri(self, endpoint: str | None = None) -> str:
        """The Airflow ``aws`` connection pointing at the S3 endpoint, as an AIRFLOW_CONN_* value.

        Without ``endpoint``: the one AWS SDKs reach, started now.
        """
        return json.dumps(
            {
                "conn_type": "aws",
                "login": os.environ.get("AWS_ACCESS_KEY_ID"),
                "password": os.environ.get("AWS_SECRET_ACCESS_KEY"),
                "extra": {
                    "endpoint_url": endpoint or self.s3_endpoint(),
                    "region_name": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                },
            }
        )

    def redis_connection_uri(self) -> str:
        """The Airflow ``redis`` connection of the fake (or of the parity run's server), as an AIRFLOW_CONN_* value."""
        if self.real.redis_url:
            from redis.connection import parse_url

            options = parse_url(self.real.redis_url)  # type: ignore[no-untyped-call]
            host, port, db = options.get("host"), options.get("port", 6379), options.get("db", 0)
            login, password = options.get("username"), options.get("password")
        else:
            (host, port), db, login, password = UNREACHABLE_REDIS, 0, None, None
        connection = {"conn_type": "redis", "host": host, "port": port, "login": login, "password": password}
        return json.dumps({**connection, "extra": {"db": db}})

    def _set_default_connections(self) -> None:
        """aws_default and redis_default on the fakes, unless the environment has its own."""
        if AWS_DEFAULT not in os.environ:
            # moto's port is reserved without starting it: tests that never reach S3 pay nothing
            endpoint = self.real.s3_endpoint or self.moto.endpoint()
            self._defaults[AWS_DEFAULT] = self.aws_connection_uri(endpoint)
        gcs_endpoint = self._gcs_reserved()
        if gcs_endpoint and GOOGLE_CLOUD_DEFAULT not in os.environ:
            self._defaults[GOOGLE_CLOUD_DEFAULT] = gcp_connection_uri(gcs_endpoint)
        if WASB_DEFAULT not in os.environ:
            self._defaults[WASB_DEFAULT] = wasb_connection_uri(self._azure_reachable())
        if REDIS_DEFAULT not in os.environ:
            self._defaults[REDIS_DEFAULT] = self.redis_connection_uri()
        self._set_env(dict(self._defaults))

    def _gcs_reserved(self) -> str | None:
        """The GCS endpoint clients are sent to: the real one, or the emulator's reserved port (not started)."""
        return self.real.gcs_endpoint or (self.gcs.endpoint() if self.gcs is not None else None)

    def _set_env(self, values: dict[str, str | None]) -> None:
        for name, value in values.items():
            self._env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def set_env(self, values: dict[str, str | None]) -> None:
        """Set (None: remove) environment variables until the end of the test."""
        self._set_env(values)

    @contextlib.contextmanager
    def active(self) -> Iterator[MockedServices]:
        """Route AWS SDKs, Google Cloud clients and Redis clients to the fakes for the duration of the block."""
        missing = self.home / "no-such-aws-config"
        if self.real.s3_endpoint:  # a parity run: the user's own credentials for their endpoint
            self._set_env({"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": self.real.s3_endpoint})
        else:
            self.moto.reset()  # what an earlier test left in the mock, if anything reached it
            self._set_env(
                {
                    **FAKE_CREDENTIALS,
                    **{name: None for name in HIDDEN_AWS},
                    "AWS_ENDPOINT_URL": UNREACHABLE_ENDPOINT,
                    "AWS_CONFIG_FILE": str(missing),
                    "AWS_SHARED_CREDENTIALS_FILE": str(missing),
                }
            )
        gcs_endpoint = self._gcs_reserved()
        if gcs_endpoint:
            if self.gcs is not None and not self.real.gcs_endpoint:
                self.gcs.reset()
            self._set_env(emulator_env(gcs_endpoint, self.home))
        if self.azurite is not None and not self.real.azure_connection_string:
            self.azurite.reset()
        self._set_env(azure_env(self._azure_reachable()))
        try:
            self._set_default_connections()
            undo = self._real_redis_undo_log()
            try:
                with self._redis_routing(undo):
                    yield self
            finally:
                if undo is not None:
                    undo.undo()  # after the routing is gone: what this test's clients wrote, and nothing else
        finally:
            self._restore_env()

    def _restore_env(self) -> None:
        for name, value in self._env.items():
            if name in self._defaults and os.environ.get(name) != self._defaults[name]:
                continue  # the test put its own default connection in place: it stays, as any variable would
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._env.clear()
        self._defaults.clear()

    def _real_redis_undo_log(self) -> RedisUndoLog | None:
        if not self.real.redis_url:
            return None
        from pytest_xcom.isolation.redis_undo import RedisUndoLog

        return RedisUndoLog(self.real.redis_url)

    def _redis_routing(self, undo: RedisUndoLog | None) -> contextlib.AbstractContextManager[None]:
        try:
            from pytest_xcom.isolation.redis_async_routing import async_redis_routed_to
            from pytest_xcom.isolation.redis_routing import redis_routed_to
        except ImportError:  # no redis client installed: nothing can reach a Redis server
            return contextlib.nullcontext()
        connection_class = () if undo is None else (undo.connection_class(),)
        sync_routing = redis_routed_to(self._redis_server, self.real.redis_url, *connection_class)
        return _together(sync_routing, async_redis_routed_to(self._redis_server, self.real.redis_url))

    def redis_client(self) -> XComRedis:
        """A client on database 0 of the server Redis clients reach (``.db(n)`` for the others)."""
        from pytest_xcom.isolation.redis_routing import XComRedis

        if self.real.redis_url:
            return XComRedis.on_url(self.real.redis_url)
        return XComRedis.on_fake(self._redis_server())

    def _redis_server(self) -> Any:
        if self.redis_server is None:
            import fakeredis

            self.redis_server = fakeredis.FakeServer()
        return self.redis_server


@contextlib.contextmanager
def _together(*managers: contextlib.AbstractContextManager[None]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for manager in managers:
            stack.enter_context(manager)
        yield
