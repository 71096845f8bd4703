"""The in-process execution API server ``dag.test()`` uses: one per process, bridged where it pays.

- Airflow 3.0 to 3.2 build a new FastAPI/Cadwyn app for every task instance; the harness keeps one
  per process (as 3.3 does with ``lru_cache``).
- Its app generates the routes of the newest API version first, the others when first asked for
  (see api_versions).
- Airflow 3.3: requests go to the app through :class:`~pytest_xcom._airflow.asgi_bridge.ASGIBridge`
  instead of Airflow's WSGI transport, when ``PYTEST_XCOM_ASGI_BRIDGE=1`` asks for it (see asgi_bridge).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pytest_xcom._airflow.api_versions import builds_newest_version_first
from pytest_xcom._airflow.versions import before

# (factory, bridged) -> the server handed to dag.test() in place of that factory's.
_servers: dict[tuple[Any, bool], Any] = {}


def bridges_execution_api() -> bool:
    """Whether this Airflow's in-process API is served through the ASGI bridge.

    Opt-in (``PYTEST_XCOM_ASGI_BRIDGE=1``), and on 3.3+ only: checked there with the differential
    fidelity suite; 3.0 to 3.2 keep Airflow's transport.
    """
    from pytest_xcom._airflow.asgi_bridge import bridge_enabled

    return not before("3.3") and bridge_enabled()


def api_event_loop() -> Any:
    """The running event loop this process's in-process execution API serves requests on, or None.

    Airflow's WSGI transport runs the app through a2wsgi on a loop of its own thread; connections of
    the async engine (Airflow 3.4 checks every write's attempt with an async session) live there.
    """
    for api in _servers.values():
        # Built on the first request of a task: every server kept here has served one.
        transport = getattr(api, "transport", None)
        loop = getattr(getattr(transport, "app", None), "loop", None)
        if loop is not None and loop.is_running():
            return loop
    return None


def _server_for(factory: Any, bridged: bool) -> Any:
    key = (factory, bridged)
    if key not in _servers:
        api = factory()  # Airflow >= 3.3 caches it itself: the same object every time
        builds_newest_version_first(api.app)
        if bridged:
            from pytest_xcom._airflow.asgi_bridge import BridgedAPI

            api = BridgedAPI(api)
        _servers[key] = api
    return _servers[key]


def build_server_ahead() -> bool:
    """Build this process's execution API server and its routes now, before any task asks for it.

    For the warm process of watch mode: what the first ``dag.test()`` of every run would build
    (the app, its newest version's routers) is built once and inherited by each forked run. No
    request is served, so no transport, thread, event loop or lifespan exists yet. False when
    this Airflow has no in-process server (Airflow 2).
    """
    from airflow.sdk.execution_time import supervisor

    factory = getattr(supervisor, "in_process_api_server", None)
    if factory is None:
        return False
    app = _server_for(factory, bridges_execution_api()).app
    if getattr(app, "_cadwyn_initialized", True) is False:
        app._cadwyn_initialize()  # what Cadwyn does on the app's first request
    return True


@contextlib.contextmanager
def in_process_api_server() -> Iterator[None]:
    """While ``dag.test()`` runs, its tasks reach this process's one execution API server.

    On Airflow 3.0 to 3.2, building an app per task instance costs about a second of CPU each, and
    the object that owns the app's lifespan is dropped right away: on 3.2 with svcs >= 26 that
    lifespan's exit detaches the services registry, and every request of the task then fails with
    "'State' object has no attribute 'svcs_registry'". Keeping the server alive fixes both.
    """
    from airflow.sdk.execution_time import supervisor

    factory = getattr(supervisor, "in_process_api_server", None)
    bridged = bridges_execution_api()
    if factory is None:
        yield
        return

    def server() -> Any:
        return _server_for(factory, bridged)

    supervisor.in_process_api_server = server  # type: ignore[assignment]
    try:
        yield
    finally:
        supervisor.in_process_api_server = factory
        if bridged and (factory, bridged) in _servers:
            _servers[factory, bridged].rest()
