"""Mocked S3: moto's server on a loopback port, fake credentials, and the ``xcom_s3`` fixture's object.

boto3, aiobotocore and s3fs all honour ``AWS_ENDPOINT_URL``, so a user's backend reaches the mock
unchanged.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import urllib.request
from typing import TYPE_CHECKING, Any

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


class MotoServer:
    """moto's server in a thread on 127.0.0.1, once per process, started when first needed.

    Its port is taken up front (``endpoint()``: a listening socket, no moto yet), so the endpoint
    can be written into connections (``aws_default``) for free; moto itself starts on the first
    connection to that port, or on ``ensure_started()``. A client that connects first waits in the
    socket's backlog for the fraction of a second moto takes to import and start.
    """

    def __init__(self) -> None:
        self.endpoint_url: str | None = None
        self._lock = threading.RLock()
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._watcher: threading.Thread | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._used = False  # a request reached the mock since the last reset

    @property
    def started(self) -> bool:
        """Whether moto runs (it does once something connected to it, or ``ensure_started()`` ran)."""
        return self._server is not None

    def endpoint(self) -> str:
        """The mock's endpoint: its port is reserved now, moto starts on the first connection to it."""
        with self._lock:
            if self.endpoint_url is None:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.bind(("127.0.0.1", 0))
                listener.listen(128)
                wake = socket.socketpair()
                self._listener, self._wake = listener, wake
                self._watcher = threading.Thread(
                    target=self._start_on_first_connection,
                    args=(listener, wake[0]),
                    name="pytest-xcom moto (not started)",
                    daemon=True,
                )
                self._watcher.start()
                self.endpoint_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            return self.endpoint_url

    def _start_on_first_connection(self, listener: socket.socket, wake: socket.socket) -> None:
        readable, _, _ = select.select([listener, wake], [], [])
        with self._lock:
            if listener in readable and self._listener is listener and self._server is None and not self._failure:
                with contextlib.suppress(Exception):  # kept in _failure: ensure_started() raises it
                    self._start()

    def ensure_started(self) -> str:
        """Start moto on the reserved port (once), and return its endpoint."""
        endpoint = self.endpoint()
        with self._lock:
            if self._failure is not None:
                raise RuntimeError(f"moto's S3 mock could not start: {self._failure!r}") from self._failure
            if self._server is None:
                self._start()
        return endpoint

    def _start(self) -> None:
        assert self._listener is not None and self._wake is not None
        try:
            self._server = self._make_server(self._listener.fileno())
        except Exception as exc:
            self._failure = exc
            self._listener.close()  # a client waiting in the backlog gets its connection refused
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, name="pytest-xcom moto", daemon=True)
        self._thread.start()
        self._wake[1].send(b"!")  # the watcher's work is done

    def _make_server(self, fd: int) -> Any:
        """moto's ThreadedMotoServer, on the socket endpoint() reserved, noting that it was used."""
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)

        def noting_use(environ: Any, start_response: Any) -> Any:
            self._used = True
            return app(environ, start_response)

        return make_server("127.0.0.1", 0, noting_use, True, request_handler=MotoRequestHandler, fd=fd)

    def reset(self) -> None:
        """Forget every bucket and object (moto's reset API), if anything reached the mock since the last reset."""
        if self._server is not None and self._used:
            request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
            no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP(S)_PROXY
            with no_proxy.open(request, timeout=30):
                pass
            self._used = False

    def stop(self) -> None:
        with self._lock:
            listener, wake, watcher = self._listener, self._wake, self._watcher
            server, thread = self._server, self._thread
            self._listener = self._wake = self._watcher = self._server = self._thread = None
            self.endpoint_url, self._failure, self._used = None, None, False
        if wake is not None and watcher is not None:
            wake[1].send(b"!")
            watcher.join()
            for end in wake:
                end.close()
        if server is not None and thread is not None:
            server.shutdown()
            server.server_close()
            thread.join()
        if listener is not None:
            listener.close()


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
