"""pytest hooks: isolate Airflow before anything imports it, report header, fixtures."""

from __future__ import annotations

from typing import Optional

import pytest

from pytest_xcom import __version__, _compat, env
from pytest_xcom.fixtures import xcom, xcom_db, xcom_metadata_db  # noqa: F401  (re-exported fixtures)

ISOLATION = pytest.StashKey[env.IsolatedAirflow]()


def _isolate(config: pytest.Config) -> None:
    if ISOLATION in config.stash:
        return
    try:
        config.stash[ISOLATION] = env.isolate()
    except env.IsolationError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Runs before any conftest.py is imported, so conftests and test modules that import
    # airflow at the top already see the isolated configuration.
    _isolate(early_config)


def pytest_configure(config: pytest.Config) -> None:
    _isolate(config)  # the plugin may have been registered after the initial conftests


def pytest_unconfigure(config: pytest.Config) -> None:
    iso: Optional[env.IsolatedAirflow] = config.stash.get(ISOLATION, None)
    if iso is not None:
        env.release(iso)
        del config.stash[ISOLATION]


def pytest_report_header(config: pytest.Config) -> str:
    iso = config.stash.get(ISOLATION, None)
    where = f"embedded SQLite in memory ({iso.db_path})" if iso is not None else "not isolated"
    return f"pytest-xcom {__version__}, apache-airflow {_compat.airflow_version()}, metadata DB: {where}"
