"""Mocked S3: moto's server on a loopback port, fake credentials, and the ``xcom_s3`` fixture's object.

boto3, aiobotocore and s3fs all honour ``AWS_ENDPOINT_URL``, so a user's backend reaches the mock
unchanged.
"""

from __future__ import annotations

import socket
import urllib.request
from typing import TYPE_CHECKING, Any

from pytest_xcom.isolation.loopback import LazyLoopbackServer

if TYPE_CHECKING:
    from pytest_xcom.isolation.services import MockedServices

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
HIDDEN_AWS = (
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


class MotoServer(LazyLoopbackServer):
    """moto's server in a thread on 127.0.0.1, once per process, started when first needed (see LazyLoopbackServer)."""

    what = "moto's S3 mock"

    def _make_server(self, listener: socket.socket) -> Any:
        """moto's ThreadedMotoServer, on the socket endpoint() reserved, noting that it was used."""
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)

        def noting_use(environ: Any, start_response: Any) -> Any:
            self._note_use()
            return app(environ, start_response)

        return make_server("127.0.0.1", 0, noting_use, True, request_handler=MotoRequestHandler, fd=listener.fileno())

    def _wipe(self) -> None:
        """moto's reset API."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP(S)_PROXY
        with no_proxy.open(request, timeout=30):
            pass


class XComS3:
    """What the ``xcom_s3`` fixture gives a test: the mocked bucket and a boto3 client on it."""

    def __init__(self, services: MockedServices, bucket: str) -> None:
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
