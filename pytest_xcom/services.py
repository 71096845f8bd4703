"""Mocked S3 (moto's server on a loopback port) and Redis (fakeredis), fresh for every test.

Both are reached the way production code reaches the real thing, so a user's backend runs
unchanged: boto3, aiobotocore and s3fs all honour ``AWS_ENDPOINT_URL``, and every
``redis.ConnectionPool`` made during a test (``Redis(host=...)``, ``Redis.from_url``, Airflow's
Redis hook) is handed a fakeredis connection instead of a socket.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

# A loopback port nothing listens on: until a test needs the S3 mock, AWS SDK calls fail fast
# with "connection refused" instead of reaching real AWS.
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask the instance metadata service (network)
}
# Where real credentials or endpoints could come from: all hidden while a test runs.
_HIDDEN_AWS = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL_S3",
)

S3_CONN_ID = "pytest_xcom_s3"


class MotoServer:
    """moto's server in a thread on 127.0.0.1, started on first use, once per process."""

    def __init__(self) -> None:
        self._server: Any = None
        self.endpoint_url: Optional[str] = None

    def ensure_started(self) -> str:
        if self.endpoint_url is None:
            from moto.server import ThreadedMotoServer

            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"
        return self.endpoint_url

    def reset(self) -> None:
        """Forget every bucket and object (moto's reset API)."""
        if self.endpoint_url is not None:
            request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
            with urllib.request.urlopen(request, timeout=30):
                pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            self.endpoint_url = None


@dataclass(frozen=True)
class RealServices:
    """Real services a parity run asked for instead of the fakes (``--xcom-redis-url``, ``--xcom-s3-endpoint``)."""

    redis_url: Optional[str] = None
    s3_endpoint: Optional[str] = None


@dataclass
class TestServices:
    """The fakes of one test: the S3 mock (shared server, state reset) and a fakeredis server.

    With ``real`` services, S3 calls go to that endpoint with the environment's own credentials,
    and Redis clients to that server; keys a test adds there are removed after it.
    """

    moto: MotoServer
    home: Path
    real: RealServices = field(default_factory=RealServices)
    redis_server: Any = None
    s3_ready: bool = False
    _env: dict[str, Optional[str]] = field(default_factory=dict)
    _redis_keys_before: Optional[set[bytes]] = None

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

    def _set_env(self, values: dict[str, Optional[str]]) -> None:
        for name, value in values.items():
            self._env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def set_env(self, values: dict[str, Optional[str]]) -> None:
        """Set (None: remove) environment variables until the end of the test."""
        self._set_env(values)

    @contextlib.contextmanager
    def active(self) -> Iterator[TestServices]:
        """Route AWS SDKs and Redis clients to the fakes for the duration of the block."""
        missing = self.home / "no-such-aws-config"
        if self.real.s3_endpoint:  # a parity run: the user's own credentials for their endpoint
            self._set_env({"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": self.real.s3_endpoint})
        else:
            self._set_env(
                {
                    **FAKE_CREDENTIALS,
                    **{name: None for name in _HIDDEN_AWS},
                    "AWS_ENDPOINT_URL": UNREACHABLE_ENDPOINT,
                    "AWS_CONFIG_FILE": str(missing),
                    "AWS_SHARED_CREDENTIALS_FILE": str(missing),
                }
            )
        try:
            with _redis_routed_to(self):
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


def _real_redis_options(url: Optional[str]) -> Optional[dict[str, Any]]:
    if not url:
        return None
    from redis.connection import parse_url

    options = parse_url(url)
    return {k: options[k] for k in ("host", "port", "db", "username", "password") if k in options}


# Connection options of real sockets that a fake connection does not take.
_SOCKET_ONLY_OPTIONS = ("path", "ssl_")


@contextlib.contextmanager
def _redis_routed_to(services: TestServices) -> Iterator[None]:
    """Every sync redis-py pool reaches this test's fake (or the parity run's server).

    Pools made during the test are built that way. Pools made before it (a module-level client
    created at import, or in an earlier test) are switched over the first time the test asks them
    for a connection, and switched back afterwards: otherwise they would reach whatever Redis
    their URL names, or another test's fake.
    """
    try:
        import redis
        from fakeredis import FakeConnection
    except ImportError:  # no redis client installed: nothing can reach a Redis server
        yield
        return

    real = _real_redis_options(services.real.redis_url)
    token = object()  # marks the pools that already reach this test's server

    def routed(connection_class: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith(_SOCKET_ONLY_OPTIONS)}
        if real is not None:  # a parity run: whatever host the code names, the chosen server
            kwargs.pop("server", None)
            return redis.Connection, {**kwargs, **real}
        kwargs.setdefault("server", services._redis_server())  # a FakeRedis brings its own
        return FakeConnection, kwargs

    original_init = redis.ConnectionPool.__init__

    def routed_init(
        pool: Any, connection_class: Any = redis.Connection, max_connections: Any = None, **kwargs: Any
    ) -> None:
        connection_class, kwargs = routed(connection_class, kwargs)
        original_init(pool, connection_class=connection_class, max_connections=max_connections, **kwargs)
        pool._pytest_xcom_route = token

    switched: list[tuple[Any, Any, dict[str, Any]]] = []

    def switch_over(pool: Any) -> None:
        if getattr(pool, "_pytest_xcom_route", None) is token:
            return
        switched.append((pool, pool.connection_class, pool.connection_kwargs))
        pool.disconnect()
        pool.connection_class, pool.connection_kwargs = routed(pool.connection_class, pool.connection_kwargs)
        pool.reset()
        pool._pytest_xcom_route = token

    def wrap_get_connection(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def get_connection(pool: Any, *args: Any, **kwargs: Any) -> Any:
            switch_over(pool)
            return original(pool, *args, **kwargs)

        return get_connection

    pool_classes = [cls for cls in (redis.ConnectionPool, redis.BlockingConnectionPool) if "get_connection" in vars(cls)]
    originals = {cls: vars(cls)["get_connection"] for cls in pool_classes}
    redis.ConnectionPool.__init__ = routed_init  # type: ignore[method-assign,assignment]
    for cls, original in originals.items():
        cls.get_connection = wrap_get_connection(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        redis.ConnectionPool.__init__ = original_init  # type: ignore[method-assign]
        for cls, original in originals.items():
            cls.get_connection = original  # type: ignore[method-assign]
        for pool, connection_class, kwargs in reversed(switched):
            pool.disconnect()
            pool.connection_class, pool.connection_kwargs = connection_class, kwargs
            pool.reset()
            pool._pytest_xcom_route = None


class XComS3:
    """What the ``xcom_s3`` fixture gives a test: the mocked bucket and a boto3 client on it."""

    def __init__(self, services: TestServices, bucket: str) -> None:
        services.ensure_bucket(bucket)
        self.endpoint_url = services.s3_endpoint()
        self.client = services.s3_client()
        self.bucket = bucket

    def keys(self, prefix: str = "") -> list[str]:
        """Sorted keys of every object in the bucket under ``prefix``."""
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def read(self, key: str) -> bytes:
        """The bytes of one object; a clear error listing the keys when it does not exist."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            raise KeyError(
                f"no object {key!r} in the mocked bucket {self.bucket!r}; it holds: {self.keys() or 'nothing'}"
            ) from None
        return response["Body"].read()  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<XComS3 bucket={self.bucket!r} endpoint={self.endpoint_url}>"
