"""The in-process execution API served without its WSGI round trip.

Under ``dag.test()`` every call a task makes to the execution API goes through
``httpx.WSGITransport`` (``httpx2`` from Airflow 3.4) -> a2wsgi -> an event loop in another thread, with several thread
hand-offs per message. :class:`ASGIBridge` hands the same request to the same ASGI app (Airflow's
FastAPI/Cadwyn app, its routes and middleware, unchanged) on one persistent event loop run in the
calling thread, and hands back the same response.

It is opt-in (``PYTEST_XCOM_ASGI_BRIDGE=1``) because it is not a perfect witness: Airflow 3.3.2's
WSGI transport fails a task whose XCom key is not ASCII (a2wsgi decodes the URL path as latin-1,
the route as UTF-8), while through the bridge the same push succeeds. The harness must fail what
plain ``dag.test()`` fails, so by default Airflow's own transport serves every run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


@functools.cache
def http_library() -> Any:
    """The HTTP client library the Task SDK talks to the execution API with: httpx, or httpx2 from
    Airflow 3.4 (same API). Requests arrive as that library's objects, so the bridge answers in it."""
    from airflow.sdk.api import client

    return getattr(client, "httpx2", None) or getattr(client, "httpx")  # noqa: B009

ENABLE_ENV = "PYTEST_XCOM_ASGI_BRIDGE"


def bridge_enabled() -> bool:
    return os.environ.get(ENABLE_ENV, "") == "1"


class ASGIBridge:
    """A sync transport of the SDK's HTTP library (``handle_request``) that runs an ASGI app on one
    persistent loop.

    The loop runs in the calling thread while a request is served (no hand-off), inside an empty
    ``contextvars`` context, as a2wsgi's loop thread would give it. A caller that already runs an
    event loop (a trigger run inline by ``dag.test()``) or that finds the loop busy in another
    thread is served from a helper thread instead. The app's lifespan is entered once, on the
    loop, and left when the bridge is collected or the process exits.
    """

    def __init__(self, app: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._helper: concurrent.futures.ThreadPoolExecutor | None = None
        # Exceptions after the response started (Starlette re-raises them once the 500 is sent)
        # leave the response as the client got it, as a2wsgi does.
        self._asgi = http_library().ASGITransport(app=app, raise_app_exceptions=False)
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] = asyncio.Queue()
        self._server: asyncio.Task[None] | None = None
        lifespan = contextlib.AsyncExitStack()
        self._run(lambda: lifespan.enter_async_context(app.router.lifespan_context(app)))
        weakref.finalize(self, _close, self._loop, lifespan)

    async def _serve_forever(self) -> None:
        """One long-lived task whose task group starts every request, each in a copy of its context.

        AnyIO keeps its worker threads (where FastAPI runs sync routes) for the life of the root
        task: with a task per request (as a2wsgi makes), every request starts a new thread.
        """
        async with anyio.create_task_group() as group:
            while True:
                request, answer = await self._queue.get()
                group.start_soon(self._answer, request, answer)

    async def _answer(self, request: Any, answer: asyncio.Future[Any]) -> None:
        try:
            response = await self._asgi.handle_async_request(request)
            body = await response.aread()
        except Exception as exc:  # handed to the caller, never into the task group
            if not answer.done():
                answer.set_exception(exc)
            return
        if not answer.done():
            answer.set_result((response.status_code, response.headers.raw, body))

    def handle_request(self, request: Any) -> Any:
        request.read()
        status, headers, body = self._run(lambda: self._submit(request))
        return http_library().Response(status, headers=headers, content=body, request=request)

    def _submit(self, request: Any) -> asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]]:
        """A future the request's answer lands in (a plain future: a task run by run_until_complete
        would become AnyIO's root task, whose worker threads end with it)."""
        if self._server is None or self._server.done():
            self._server = self._loop.create_task(self._serve_forever())
        answer: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] = self._loop.create_future()
        self._queue.put_nowait((request, answer))
        return answer

    def rest(self) -> None:
        """End the serving task, and with it AnyIO's worker threads (which would hold up the
        interpreter's exit): called when a ``dag.test()`` is over; the next request starts it again."""
        with self._lock:
            server, self._server = self._server, None
            if server is not None and not server.done():
                server.cancel()
                self._run_locked(lambda: asyncio.gather(server, return_exceptions=True))

    def _run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run the loop until ``make()``'s awaitable is done, here or in the helper thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("ASGIBridge called from its own event loop: the request would wait for itself")
        if running is None and self._lock.acquire(blocking=False):
            try:
                return self._run_locked(make)
            finally:
                self._lock.release()
        return self._helper_pool().submit(self._run_waiting, make).result()

    def _run_waiting(self, make: Callable[[], Awaitable[T]]) -> T:
        with self._lock:
            return self._run_locked(make)

    def _run_locked(self, make: Callable[[], Awaitable[T]]) -> T:
        # A fresh context: the task's contextvars (log binding, tracing) stay out of the app.
        return contextvars.Context().run(lambda: self._loop.run_until_complete(make()))

    def _helper_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._helper is None:
            self._helper = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pytest-xcom-asgi")
        return self._helper


def _close(loop: asyncio.AbstractEventLoop, lifespan: contextlib.AsyncExitStack) -> None:
    """Leave the app's lifespan and close the loop (the bridge is gone, or the process exits)."""
    if loop.is_running() or loop.is_closed():
        return
    with contextlib.suppress(Exception):
        loop.run_until_complete(lifespan.aclose())
    with contextlib.suppress(Exception):
        loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


class BridgedAPI:
    """Airflow's ``InProcessExecutionAPI`` with :class:`ASGIBridge` as its ``transport``.

    ``app`` and everything else is the wrapped object's own.
    """

    def __init__(self, api: Any) -> None:
        self._api = api
        self._transport: ASGIBridge | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Any:
        return self._api.app

    @property
    def transport(self) -> ASGIBridge:
        with self._lock:
            if self._transport is None:
                self._transport = ASGIBridge(self._api.app)
            return self._transport

    def rest(self) -> None:
        if self._transport is not None:
            self._transport.rest()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


@contextlib.contextmanager
def bridge_switched(on: bool) -> Iterator[None]:
    """The bridge on or off inside the block, whatever the environment says (tests and measurements)."""
    saved = os.environ.get(ENABLE_ENV)
    os.environ[ENABLE_ENV] = "1" if on else "0"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(ENABLE_ENV, None)
        else:
            os.environ[ENABLE_ENV] = saved


def no_bridge() -> contextlib.AbstractContextManager[None]:
    """Airflow's own transport inside the block."""
    return bridge_switched(False)


def bridged() -> contextlib.AbstractContextManager[None]:
    """The ASGI bridge inside the block (on Airflow releases that support it)."""
    return bridge_switched(True)
