"""Shared helpers for pytest-xcom's own tests, which drive the plugin through pytester."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

import loopback_guard
from airflow_compat import AIRFLOW2

loopback_guard.install()  # no test of this suite may reach beyond 127.0.0.1 / ::1
TESTS_DIR = Path(__file__).parent


@pytest.fixture
def user_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Write a user's test module (plus DAG files from tests/dag_files) and run pytest on it.

    A subprocess run loads the loopback guard too, so it cannot reach the network either.
    """

    def write_and_run(source: str, *args: str, dag_files: tuple[str, ...] = (), subprocess: bool = False):
        for name in dag_files:
            pytester.copy_example(name)
        pytester.makepyfile(test_user=textwrap.dedent(source))
        if subprocess:
            monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])))
            result = pytester.runpytest_subprocess("-p", "loopback_guard", "-p", "no:randomly", "-p", "no:cacheprovider", *args)
        else:
            result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)
        _progress_on_its_own_line(result.outlines)
        return result

    return write_and_run


def _progress_on_its_own_line(lines: list[str]) -> None:
    """Under ``-s`` pytest writes a test's first print on its progress line ("test_user.py SIZE 24").

    Airflow 3's task logs end that line before the test prints; Airflow 2's go to task log files.
    Splitting it lets the snippets' printed lines be matched alike on both.
    """
    for index in range(len(lines) - 1, -1, -1):
        head, sep, rest = lines[index].partition("test_user.py ")
        if not head and sep and rest and not re.fullmatch(r"[.FEsxX]+(\s+\[\s*\d+%\])?", rest):
            lines[index : index + 1] = [sep.rstrip(), rest]


@pytest.fixture(scope="session", autouse=True)
def _airflow_loaded_once(xcom_metadata_db, pytestconfig):
    """Run one DAG in this process before any in-process pytester run.

    pytester restores sys.modules after every in-process run, dropping what that run imported.
    Airflow imports much of itself lazily during the first dag.test(); doing that here, once,
    keeps a single copy of Airflow (and its SQLAlchemy models) for the whole suite.
    """
    if AIRFLOW2:  # initdb imports the FAB models; a second import (after pytester's restore) fails
        import airflow.providers.fab.auth_manager.models  # noqa: F401
    from airflow.providers.standard.operators.bash import BashOperator  # noqa: F401
    from airflow.providers.standard.operators.python import PythonOperator  # noqa: F401
    from pytest_xcom.harness import XComHarness
    from pytest_xcom.isolation.s3 import MotoServer
    from pytest_xcom.isolation.services import MockedServices
    from pytest_xcom.options import ISOLATION

    from airflow_compat import dag, task

    @dag(schedule=None)
    def warm_up():
        @task
        def numbers():
            return [1, 2]

        @task
        def double(n):
            return n * 2

        @task
        def total(values):
            return sum(values)

        total(double.expand(n=numbers()))

    xcom_metadata_db.reset()
    iso = pytestconfig.stash[ISOLATION]
    with MockedServices(moto=MotoServer(), home=iso.root).active() as services:
        XComHarness(dags_folder=iso.dags_folder, services=services).run(warm_up()).assert_succeeded()
