"""The plugin's configuration: stash keys, option and ini readers, and per-test choices from markers."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pytest_xcom.checks.policy import Policy, from_marker
from pytest_xcom.errors import BackendError, PolicyError
from pytest_xcom.isolation.backends import BackendChoice
from pytest_xcom.isolation.env import IsolatedAirflow
from pytest_xcom.isolation.services import RealServices
from pytest_xcom.recording.airflow_log import AIRFLOW_LOG_MODES

ISOLATION = pytest.StashKey[IsolatedAirflow]()
SUITE_POLICY = pytest.StashKey[Policy]()
SUITE_BACKEND = pytest.StashKey[BackendChoice]()
AIRFLOW_LOGS = pytest.StashKey[str]()


def parse_airflow_logs(value: Any) -> str:
    """``--xcom-airflow-logs`` / ``xcom_airflow_logs``: failed (the default), all or none."""
    text = str(value or "failed").strip().lower()
    if text not in AIRFLOW_LOG_MODES:
        raise PolicyError(
            f"--xcom-airflow-logs / xcom_airflow_logs must be one of {', '.join(AIRFLOW_LOG_MODES)}, not {value!r}"
        )
    return text


def silenced_log_handlers(config: pytest.Config) -> list[logging.Handler]:
    """pytest's handler behind "Captured log": Airflow's records of a run are kept from it (not from caplog)."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    handler = getattr(plugin, "report_handler", None)
    return [handler] if isinstance(handler, logging.Handler) else []


def option(config: pytest.Config, name: str) -> Any:
    """An option's value, else its ini twin's (pytest-xcom parses both: errors name the option)."""
    # Before the initial conftests load, parsed options live only in known_args_namespace.
    value = getattr(config.known_args_namespace, name, None)
    if value is None:
        value = config.getoption(name, default=None)
    return config.getini(name) if value is None else value


def isolation(config: pytest.Config) -> IsolatedAirflow:
    return config.stash[ISOLATION]


def real_services(config: pytest.Config) -> RealServices:
    """The real servers a parity run asked for (none by default: the fakes)."""
    return RealServices(
        redis_url=option(config, "xcom_redis_url") or None,
        s3_endpoint=option(config, "xcom_s3_endpoint") or None,
        gcs_endpoint=option(config, "xcom_gcs_endpoint") or None,
        azure_connection_string=option(config, "xcom_azure_connection_string") or None,
    )


def marker_error(item: pytest.Item) -> str | None:
    """What is wrong with the test's ``xcom_policy`` / ``xcom_backend`` markers, naming the test (None: nothing).

    Checked when the test is collected, so a typo errors the test before any fixture or its body runs.
    """
    try:
        policy_for(item)
        backend_for(item)
    except pytest.UsageError as exc:
        return str(exc)
    return None


def policy_for(item: pytest.Item) -> Policy:
    """The suite policy, overridden by the closest ``xcom_policy`` marker."""
    base = item.config.stash[SUITE_POLICY]
    marker = item.get_closest_marker("xcom_policy")
    if marker is None:
        return base
    try:
        return from_marker(base, marker.args, marker.kwargs)
    except PolicyError as exc:
        raise pytest.UsageError(f"{item.nodeid}: {exc}") from None


def backend_for(item: pytest.Item) -> BackendChoice:
    """The suite backend, overridden by the closest ``xcom_backend`` marker."""
    marker = item.get_closest_marker("xcom_backend")
    if marker is None:
        return item.config.stash[SUITE_BACKEND]
    if len(marker.args) != 1:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.xcom_backend takes the backend name as its one positional "
            f"argument, e.g. @pytest.mark.xcom_backend('s3', threshold=1024); got {marker.args!r}"
        )
    try:
        return BackendChoice(marker.args[0], dict(marker.kwargs))
    except BackendError as exc:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.xcom_backend: {exc}") from None
