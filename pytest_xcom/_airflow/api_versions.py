"""The in-process execution API builds the routes of the API version its tasks speak first.

Airflow's execution API is a Cadwyn app: on its first request Cadwyn generates the routers of
every API version the app serves (nine on Airflow 3.3), about 2.5 s of CPU, most of the first
``dag.test()`` of a process after the imports. ``dag.test()``'s tasks speak one version: the Task
SDK's client sends the newest one (a client that sends no version gets the app's default, the
newest too). So the app first generates that version's router alone, with Cadwyn's own generator,
from the same routes; the routers of the other versions are generated, by Cadwyn as Airflow would
have, on the first request that asks for one of them (a mismatched Task SDK, a hand-made request).

What a newest-version request meets is the same: its router is generated from the same head
routes with no version change to apply (the newest version's changes only migrate older
clients), and tests compare the OpenAPI schema of both builds. ``PYTEST_XCOM_EAGER_API_VERSIONS=1``
keeps Cadwyn's own first-request build of every version.
"""

from __future__ import annotations

import os
from typing import Any

EAGER_ENV = "PYTEST_XCOM_EAGER_API_VERSIONS"

# What this relies on in Cadwyn's app; an app without any of it is left to build itself.
_CADWYN_APP_ATTRIBUTES = (
    "_cadwyn_initialize",
    "_cadwyn_initialized",
    "_latest_version_router",
    "_add_versioned_routers",
    "_versioned_webhook_routers",
    "_kwargs_to_router",
)


def builds_newest_version_first(app: Any) -> bool:
    """Make ``app`` (Airflow's execution API app, not yet serving) build its newest version first.

    Returns whether it will; an app that already served a request, or a Cadwyn without the
    internals used here, keeps its own build.
    """
    if os.environ.get(EAGER_ENV, "") == "1" or getattr(app, "_pytest_xcom_newest_first", False):
        return False
    if not all(hasattr(app, name) for name in _CADWYN_APP_ATTRIBUTES) or app._cadwyn_initialized:
        return False
    app._pytest_xcom_newest_first = True
    app._cadwyn_initialize = lambda: _initialize_newest_version(app)
    return True


def _initialize_newest_version(app: Any) -> None:
    from cadwyn import HeadVersion, Version, VersionBundle, generate_versioned_routers
    from cadwyn.route_generation import _DELETED_ROUTE_TAG, copy_router
    from fastapi.routing import APIRoute

    full_bundle = app.versions
    newest = full_bundle.versions[0].value
    try:
        # The newest version with no changes: those only migrate requests of older versions.
        # The endpoints' wrappers read the version from the app's own context variable.
        bundle = VersionBundle(HeadVersion(), Version(newest), api_version_var=full_bundle.api_version_var)
        # Cadwyn's copy flattens routers FastAPI >= 0.137 includes lazily. Routes deleted at head
        # exist only in older versions (Cadwyn drops them from the newest); left in, a generator
        # that never reaches the version restoring them refuses them.
        head = copy_router(app._latest_version_router)
        head.routes = [
            route
            for route in head.routes
            if not (isinstance(route, APIRoute) and _DELETED_ROUTE_TAG in route.tags)
        ]
        # The copy's routes carry copies of the app's dependency overrides (keyed by copies of
        # the dependencies); Cadwyn solves a request's dependencies with the head route's
        # provider, so they must see the app's own overrides (the auth bypass among them).
        provider = app._latest_version_router.dependency_overrides_provider
        for route in head.routes:
            if isinstance(route, APIRoute):
                route.dependency_overrides_provider = provider
        if hasattr(head, "_mark_routes_changed"):  # FastAPI >= 0.137 caches the flattened routes
            head._mark_routes_changed()
        generated = generate_versioned_routers(head, webhooks=app.webhooks, versions=bundle, **_where_versions_are(app))
    except Exception:
        # Whatever Cadwyn objects to here, its own build of every version decides: the same
        # error, or the same app, as without the harness.
        del app._cadwyn_initialize  # Cadwyn's own method again
        app._cadwyn_initialize()
        return
    app._add_versioned_routers(generated.endpoints[newest], version=newest)
    if newest in generated.webhooks:
        app._versioned_webhook_routers[newest] = generated.webhooks[newest]
    app.router.versioned_routers = _OlderVersionsOnDemand(app, newest, app.router.versioned_routers)
    app._cadwyn_initialized = True


def _where_versions_are(app: Any) -> dict[str, Any]:
    """What the app's own initialization tells the generator of where requests carry their version.

    Cadwyn 7 and 8 (Airflow 3.2, 3.3) pass it; Cadwyn 5 (Airflow 3.0, 3.1) has no such arguments.
    """
    if not hasattr(app, "_api_version_location"):
        return {}
    return {
        "api_version_parameter_name": app.api_version_parameter_name,
        "api_version_location": app._api_version_location,
    }


class _OlderVersionsOnDemand(dict):  # type: ignore[type-arg]
    """The app's routers by version: the newest one built, the others by Cadwyn when first asked for.

    Cadwyn's root router looks routers up by ``versions[v]`` (after ``v in versions`` or a pick
    among ``keys()``, which hold every version from the start), so ``__getitem__`` is the door.
    """

    def __init__(self, app: Any, newest: Any, routers: dict[Any, Any]) -> None:
        super().__init__(routers)
        self._app = app
        self._newest = newest
        self._complete = False

    def __getitem__(self, version: Any) -> Any:
        if version != self._newest and not self._complete:
            self._build_every_version()
        return super().__getitem__(version)

    def get(self, version: Any, default: Any = None) -> Any:
        return self[version] if version in self else default

    def _build_every_version(self) -> None:
        """Start over with empty routers and let Cadwyn build every version, as on a plain first request."""
        from fastapi import APIRouter

        self._complete = True
        for version in list(self.keys()):
            dict.__setitem__(self, version, APIRouter(**self._app._kwargs_to_router))
        self._app._versioned_webhook_routers.clear()
        type(self._app)._cadwyn_initialize(self._app)
