"""The mocked services of one test: S3 (moto) and Redis (fakeredis), fresh for every test.

With real services (a parity run: ``--xcom-s3-endpoint``, ``--xcom-redis-url``) the same routing
points at those instead.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_xcom.isolation.redis_routing import redis_routed_to
from pytest_xcom.isolation.s3 import (
    FAKE_CREDENTIALS,
    HIDDEN_AWS,
    S3_CONN_ID,
    UNREACHABLE_ENDPOINT,
    MotoServer,
)

__all__ = ["S3_CONN_ID", "MockedServices", "RealServices"]


@dataclass(frozen=True)
class RealServices:
    """Real services a parity run asked for instead of the fakes (``--xcom-redis-url``, ``--xcom-s3-endpoint``)."""

    redis_url: str | None = None
    s3_endpoint: str | None = None


@dataclass
class MockedServices:
    """The fakes of one test: the S3 mock (shared server, state reset) and a fakeredis server.

    With ``real`` services, S3 calls go to that endpoint with the environment's own credentials,
    and Redis clients to that server; keys a test adds there are removed after it.
    """

    moto: MotoServer
    home: Path
    real: RealServices = field(default_factory=RealServices)
    redis_server: Any = None
    s3_ready: bool = False
    _env: dict[str, str | None] = field(default_factory=dict)
    _redis_keys_before: set[bytes] | None = None

    def s3_endpoint(self) -> str:
        """Start (or reuse) the S3 mock, with its state reset for this test, or the real endpoint."""
        if not self.s3_ready:
            if self.real.s3_endpoint:
                endpoint = self.real.s3_endpoint
            else:
                endpoint = self.moto.ensure_started()
                self.moto.reset()
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

    def aws_connection_uri(self) -> str:
        """The Airflow ``aws`` connection pointing at the S3 endpoint, as an AIRFLOW_CONN_* value."""
        endpoint = self.s3_endpoint()
        return json.dumps(
            {
                "conn_type": "aws",
                "login": os.environ.get("AWS_ACCESS_KEY_ID"),
                "password": os.environ.get("AWS_SECRET_ACCESS_KEY"),
                "extra": {"endpoint_url": endpoint, "region_name": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")},
            }
        )

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
        """Route AWS SDKs and Redis clients to the fakes for the duration of the block."""
        missing = self.home / "no-such-aws-config"
        if self.real.s3_endpoint:  # a parity run: the user's own credentials for their endpoint
            self._set_env({"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": self.real.s3_endpoint})
        else:
            self._set_env(
                {
                    **FAKE_CREDENTIALS,
                    **{name: None for name in HIDDEN_AWS},
                    "AWS_ENDPOINT_URL": UNREACHABLE_ENDPOINT,
                    "AWS_CONFIG_FILE": str(missing),
                    "AWS_SHARED_CREDENTIALS_FILE": str(missing),
                }
            )
        try:
            with redis_routed_to(self._redis_server, self.real.redis_url):
                self._remember_real_redis_keys()
                try:
                    yield self
                finally:
                    self._forget_new_real_redis_keys()
        finally:
            for name, value in self._env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._env.clear()

    def redis_client(self) -> Any:
        if self.real.redis_url:
            import redis

            return redis.Redis.from_url(self.real.redis_url)
        import fakeredis

        return fakeredis.FakeRedis(server=self._redis_server())

    def _remember_real_redis_keys(self) -> None:
        if self.real.redis_url:
            self._redis_keys_before = set(self.redis_client().scan_iter(count=1000))

    def _forget_new_real_redis_keys(self) -> None:
        """Remove what this test added to the real Redis, so the next test starts as it did."""
        if self.real.redis_url and self._redis_keys_before is not None:
            client = self.redis_client()
            added = [key for key in client.scan_iter(count=1000) if key not in self._redis_keys_before]
            if added:
                client.delete(*added)

    def _redis_server(self) -> Any:
        if self.redis_server is None:
            import fakeredis

            self.redis_server = fakeredis.FakeServer()
        return self.redis_server
