"""After every test the harness restores what it changed, and never writes to the user's Airflow DB."""

import os
import subprocess
import sys
import uuid

from test_real_services import POSTGRES, needs_postgres

RESTORATION = """
import os, pytest
from airflow_compat import dag, task

BEFORE = {}

@dag(schedule=None)
def payload():
    @task
    def big():
        return "x" * 5000
    big()

def test_0_remember_the_process_as_it_was():
    from airflow.configuration import conf
    from airflow_compat import xcom_holders
    _, xcom_module = xcom_holders()
    BEFORE["env"] = dict(os.environ)
    BEFORE["backend"] = xcom_module.XCom
    BEFORE["conf"] = conf.get("core", "xcom_backend")

@pytest.mark.xcom_backend("s3", threshold=100, bucket="kept", prefix="p")
def test_1_change_everything(xcom, xcom_s3, xcom_redis, xcom_db):
    import redis
    from airflow_compat import xcom_holders
    _, xcom_module = xcom_holders()
    xcom.run(payload()).assert_offloaded("big")
    redis.Redis(host="anywhere").set("left", "over")
    os.environ["USER_TEST_VAR"] = "set by the test itself"   # the harness must not hide this one
    assert xcom_module.XCom is BEFORE["backend"]              # re-pointed only during run()
    assert os.environ["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH"].startswith("s3://")
    assert xcom_s3.keys(prefix="p/")

def test_2_everything_is_back(xcom_s3, xcom_redis, xcom_db):
    from airflow.configuration import conf
    from airflow.models import DagRun
    from airflow_compat import XComModel
    from airflow_compat import xcom_holders
    task_runner, xcom_module = xcom_holders()
    from sqlalchemy import func, select

    os.environ.pop("USER_TEST_VAR")
    # environment: only the fixtures active in *this* test differ (AWS routing of xcom_s3)
    aws = {k for k in os.environ if k.startswith("AWS_")} | {k for k in BEFORE["env"] if k.startswith("AWS_")}
    aws |= {"PYTEST_CURRENT_TEST"}    # pytest's own
    aws |= {"AIRFLOW_CONN_AWS_DEFAULT", "AIRFLOW_CONN_REDIS_DEFAULT",  # the fixtures' default connections
            "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", "AIRFLOW_CONN_WASB_DEFAULT"}
    # the GCS emulator's and Azurite's routing, set with the default connections
    aws |= {"STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "NO_GCE_CHECK", "GCE_METADATA_HOST",
            "GCE_METADATA_IP", "CLOUDSDK_CONFIG", "AZURE_STORAGE_CONNECTION_STRING"}
    assert {k: v for k, v in os.environ.items() if k not in aws} == {k: v for k, v in BEFORE["env"].items() if k not in aws}
    assert "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH" not in os.environ
    # Airflow config and the resolved XCom backend
    assert conf.get("core", "xcom_backend") == BEFORE["conf"]
    assert conf.get("common.io", "xcom_objectstorage_path", fallback="") == ""
    assert xcom_module.XCom is BEFORE["backend"] and task_runner.XCom is BEFORE["backend"]
    # moto and fakeredis state
    assert xcom_s3.client.list_buckets()["Buckets"] == [{"Name": "pytest-xcom", "CreationDate": xcom_s3.client.list_buckets()["Buckets"][0]["CreationDate"]}]
    assert xcom_redis.keys("*") == []
    # the DB
    with xcom_db.session() as session:
        assert session.scalar(select(func.count()).select_from(DagRun)) == 0
        assert session.scalar(select(func.count()).select_from(XComModel)) == 0

def test_3_outside_the_fixtures_no_aws_routing_is_left():
    ignore = {"PYTEST_CURRENT_TEST"}
    assert {k: v for k, v in os.environ.items() if k not in ignore} == {
        k: v for k, v in BEFORE["env"].items() if k not in ignore}
"""


def test_every_change_is_undone_after_the_test(user_tests):
    result = user_tests(RESTORATION, "-p", "no:xdist")
    result.assert_outcomes(passed=4)


@needs_postgres
def test_the_users_real_airflow_db_is_never_written(pytester, tmp_path):
    """A user environment pointing at a real (throwaway) PostgreSQL Airflow DB: row counts unchanged."""
    from sqlalchemy import create_engine, text

    name = f"users_airflow_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg2://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    users_url = POSTGRES.replace("postgresql://", "postgresql+psycopg2://").rsplit("/", 1)[0] + f"/{name}"
    users_home = tmp_path / "users_airflow_home"
    users_home.mkdir()
    users_env = dict(os.environ, AIRFLOW_HOME=str(users_home), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=users_url)
    try:
        # the user's Airflow DB, migrated and with a run of its own in it
        subprocess.run(
            [sys.executable, "-c", "from airflow.utils.db import initdb; initdb()"],
            env=users_env, check=True, capture_output=True, timeout=600,
        )
        users_engine = create_engine(users_url)

        def row_counts():
            with users_engine.connect() as connection:
                tables = [r[0] for r in connection.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"))]
                return {t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}

        before = row_counts()
        assert len(before) > 30, "the user's DB should look like a migrated Airflow DB"
        pytester.copy_example("mapped_dag.py")
        pytester.makepyfile(test_user="""
            from mapped_dag import mapped_dag

            def test_runs(xcom, xcom_db):
                assert "users_airflow" not in xcom_db.url
                xcom.run(mapped_dag).assert_succeeded()
            """)
        tests_dir = os.path.dirname(__file__)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "loopback_guard", "-p", "no:randomly", "-p", "no:cacheprovider"],
            cwd=pytester.path, env=dict(users_env, PYTHONPATH=tests_dir), capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:]
        assert "1 passed" in result.stdout
        assert row_counts() == before, "pytest-xcom wrote to the user's configured Airflow DB"
        users_engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
