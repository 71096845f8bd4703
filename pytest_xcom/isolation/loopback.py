"""An in-process fake service on a loopback port, started lazily: the base of the S3 and GCS fakes.

The port is taken up front (``endpoint()``: a listening socket, no server yet), so the endpoint
can be written into connections and environment variables for free; the server itself starts on
the first connection to that port, or on ``ensure_started()``. A client that connects first waits
in the socket's backlog for the fraction of a second the server takes to import and start.
"""

from __future__ import annotations

import abc
import contextlib
import select
import socket
import threading
from typing import Any


class LazyLoopbackServer(abc.ABC):
    """A server in a thread on 127.0.0.1, once per process, started when first needed.

    Subclasses build the server (``_make_server``: an object with ``serve_forever``,
    ``shutdown`` and ``server_close`` serving on the given listening socket) and forget its
    state (``_wipe``); ``_note_use()`` in their request path lets ``reset()`` skip a fake no
    request reached.
    """

    #: What the server is, for thread names and errors ("moto's S3 mock").
    what = "fake service"

    def __init__(self) -> None:
        self.endpoint_url: str | None = None
        self._lock = threading.RLock()
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._watcher: threading.Thread | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._used = False  # a request reached the fake since the last reset

    @property
    def started(self) -> bool:
        """Whether the server runs (it does once something connected to it, or ``ensure_started()`` ran)."""
        return self._server is not None

    def endpoint(self) -> str:
        """The fake's endpoint: its port is reserved now, the server starts on the first connection to it."""
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
                    name=f"pytest-xcom {self.what} (not started)",
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
        """Start the server on the reserved port (once), and return its endpoint."""
        endpoint = self.endpoint()
        with self._lock:
            if self._failure is not None:
                raise RuntimeError(f"{self.what} could not start: {self._failure!r}") from self._failure
            if self._server is None:
                self._start()
        return endpoint

    def _start(self) -> None:
        assert self._listener is not None and self._wake is not None
        try:
            self._server = self._make_server(self._listener)
        except Exception as exc:
            self._failure = exc
            self._listener.close()  # a client waiting in the backlog gets its connection refused
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"pytest-xcom {self.what}", daemon=True)
        self._thread.start()
        self._wake[1].send(b"!")  # the watcher's work is done

    @abc.abstractmethod
    def _make_server(self, listener: socket.socket) -> Any:
        """The server, serving on ``listener`` (bound and listening) once its ``serve_forever`` runs."""

    def _note_use(self) -> None:
        self._used = True

    def reset(self) -> None:
        """Forget every bucket and object, if anything reached the fake since the last reset."""
        if self._server is not None and self._used:
            self._wipe()
            self._used = False

    @abc.abstractmethod
    def _wipe(self) -> None:
        """Forget every bucket and object the fake holds."""

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
