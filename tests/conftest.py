"""Shared helpers for pytest-xcom's own tests, which drive the plugin through pytester."""

from __future__ import annotations

import textwrap

import pytest


@pytest.fixture
def user_tests(pytester: pytest.Pytester):
    """Write a user's test module (plus DAG files from tests/dag_files) and run pytest on it."""

    def write_and_run(source: str, *args: str, dag_files: tuple[str, ...] = (), subprocess: bool = False):
        for name in dag_files:
            pytester.copy_example(name)
        pytester.makepyfile(test_user=textwrap.dedent(source))
        run = pytester.runpytest_subprocess if subprocess else pytester.runpytest
        return run("-p", "no:randomly", "-p", "no:cacheprovider", *args)

    return write_and_run


@pytest.fixture(scope="session", autouse=True)
def _airflow_loaded_once(xcom_metadata_db, pytestconfig):
    """Run one DAG in this process before any in-process pytester run.

    pytester restores sys.modules after every in-process run, dropping what that run imported.
    Airflow imports much of itself lazily during the first dag.test(); doing that here, once,
    keeps a single copy of Airflow (and its SQLAlchemy models) for the whole suite.
    """
    from airflow.providers.standard.operators.bash import BashOperator  # noqa: F401
    from airflow.providers.standard.operators.python import PythonOperator  # noqa: F401
    from airflow.sdk import dag, task

    from pytest_xcom.harness import XComHarness
    from pytest_xcom.plugin import ISOLATION

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
    XComHarness(dags_folder=pytestconfig.stash[ISOLATION].dags_folder).run(warm_up()).assert_succeeded()
