"""--xcom-db on real PostgreSQL / MariaDB, --xcom-redis-url and --xcom-s3-endpoint parity runs.

These use the servers on this machine (127.0.0.1) and skip, saying why, when one is not there.
"""

import importlib.util
import os
import socket
from pathlib import Path

import pytest

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB = "mysql://root@127.0.0.1:3306/test"
REDIS = "redis://127.0.0.1:6379/15"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _needs(port: int, what: str, *modules: str):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        return pytest.mark.skip(reason=f"{what}: driver(s) {', '.join(missing)} not installed")
    return pytest.mark.skipif(not _listening(port), reason=f"{what}: no server on 127.0.0.1:{port}")


needs_postgres = _needs(5432, "PostgreSQL", "psycopg2", "asyncpg")
needs_mariadb = _needs(3306, "MariaDB", "MySQLdb", "aiomysql")
needs_redis = _needs(6379, "Redis", "redis")

ISOLATION_TESTS = """
from sqlalchemy import func, select
from airflow.models import DagRun
from airflow_compat import XComModel
from airflow_compat import dag, task

@dag(schedule=None)
def sizes():
    @task
    def big():
        return "x" * 70_000          # above the 'mysql' preset (65,535), below any real limit
    @task
    def size(value):
        return len(value)
    size(big())

sizes_dag = sizes()

def rows(xcom_db, model):
    with xcom_db.session() as session:
        return session.scalar(select(func.count()).select_from(model))

def test_first(xcom, xcom_db):
    run = xcom.run(sizes_dag)
    run.assert_succeeded()
    assert run.value("size") == 70_000
    assert rows(xcom_db, DagRun) == 1 and rows(xcom_db, XComModel) == 2
    print("DB", xcom_db.url.split("@")[-1])

def test_second_sees_a_clean_db(xcom, xcom_db):
    assert rows(xcom_db, DagRun) == 0 and rows(xcom_db, XComModel) == 0
    run = xcom.run(sizes_dag)
    # the real column holds it; the historical MySQL BLOB limit would not have
    run.assert_max_size("postgres")
    try:
        run.assert_max_size("mysql")
    except AssertionError as exc:
        print("PRESET", str(exc).splitlines()[0])
"""


def _databases(url: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://").replace("mysql://", "mysql+mysqldb://"))
    query = "SELECT datname FROM pg_database" if url.startswith("postgresql") else "SHOW DATABASES"
    try:
        with engine.connect() as connection:
            names = {row[0] for row in connection.execute(text(query))}
    finally:
        engine.dispose()
    # test_restoration's throwaway "user" DB may come and go on another xdist worker meanwhile
    return {name for name in names if not name.startswith("users_airflow_")}


@pytest.mark.parametrize(
    ("url", "dialect"),
    [pytest.param(POSTGRES, "postgresql", marks=needs_postgres), pytest.param(MARIADB, "mysql", marks=needs_mariadb)],
)
def test_real_metadata_db_isolated_per_test_and_dropped_after(user_tests, url, dialect):
    before = _databases(url)
    result = user_tests(ISOLATION_TESTS, "-s", f"--xcom-db={url}", subprocess=True)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            f"pytest-xcom *, metadata DB: {dialect}+* server *, database pytest_xcom_* (created by pytest-xcom, dropped at the end)",
            "*DB 127.0.0.1:*/pytest_xcom_*",
            "*PRESET 1 XCom(s) of DAG 'sizes' exceed the serialized size limit of 64.0 KiB (65,535 bytes, preset 'mysql'), largest first:",
        ]
    )
    # other pytest runs on this shared server may add their own databases meanwhile: check ours
    ours = next(line.split("/")[-1].strip() for line in result.outlines if line.lstrip(".").startswith("DB "))
    after = _databases(url)
    assert ours.startswith("pytest_xcom_") and ours not in after, "the harness left its database behind"
    # Other sessions' pytest_xcom_* databases come and go (their owners drop them; a start-up sweep
    # drops those of ended sessions: tests/test_leftovers.py): every other database must stay.
    others = {name for name in before if not name.startswith("pytest_xcom_")}
    assert others <= after, f"the harness dropped other databases: {sorted(others - after)}"


@needs_mariadb
def test_an_xcom_beyond_max_allowed_packet_fails_on_mariadb(user_tests):
    result = user_tests(
        """
        from airflow_compat import dag, task

        @dag(schedule=None)
        def huge():
            @task
            def blob():
                return "x" * (20 * 1024 * 1024)      # beyond MariaDB's default max_allowed_packet (16 MiB)
            blob()

        def test_huge(xcom):
            run = xcom.run(huge())
            print("STATE", run.state)
            print("ERROR", run.failures["blob"].strip().splitlines()[-1][:160])
        """,
        "-s",
        f"--xcom-db={MARIADB}",
        subprocess=True,
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*STATE failed", "*ERROR *"])


def test_bad_xcom_db_urls_are_usage_errors(user_tests):
    result = user_tests("def test_x():\n    pass\n", "--xcom-db=oracle://scott@127.0.0.1/orcl", subprocess=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --xcom-db 'oracle://scott@127.0.0.1/orcl': pytest-xcom runs on PostgreSQL or MySQL servers (or the embedded SQLite default), not 'oracle'"]
    )
    result = user_tests("def test_x():\n    pass\n", "--xcom-db=postgresql://nobody@127.0.0.1:1/postgres", subprocess=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --xcom-db: cannot create a database on postgresql+psycopg2://nobody@127.0.0.1:1/postgres: OperationalError: *"])


@needs_redis
def test_redis_parity_run_against_the_local_server(user_tests, pytester, monkeypatch):
    import redis

    # the backend serializes through example_dags/xcom_backends/_compat.py (Airflow 2 and 3)
    example_dags = str(Path(__file__).parents[1] / "example_dags")
    monkeypatch.syspath_prepend(example_dags)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [example_dags, os.environ.get("PYTHONPATH")])))

    server = redis.Redis.from_url(REDIS)
    server.set("pytest-xcom-untouched", "still here")
    pytester.makepyfile(
        redis_backend="""
        import redis
        from xcom_backends._compat import BaseXCom, dump, load

        class RedisXCom(BaseXCom):
            @staticmethod
            def serialize_value(value, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None):
                name = f"xcom-parity:{task_id}:{key}"
                redis.Redis(host="redis.prod.internal", port=6379).set(name, dump(value))
                return BaseXCom.serialize_value("redis://" + name)

            @staticmethod
            def deserialize_value(result):
                ref = BaseXCom.deserialize_value(result)
                raw = redis.Redis(host="redis.prod.internal").get(ref[len("redis://"):])
                return load(raw)
        """
    )
    try:
        result = user_tests(
            """
            import pytest, redis
            from airflow_compat import dag, task

            @dag(schedule=None)
            def parity():
                @task
                def make():
                    return {"rows": 3}
                @task
                def use(v):
                    return v["rows"]
                use(make())

            @pytest.mark.xcom_backend("redis_backend.RedisXCom")
            def test_parity(xcom, xcom_redis):
                run = xcom.run(parity())
                run.assert_succeeded()
                assert run.value("use") == 3
                assert xcom_redis.get("xcom-parity:make:return_value") == b'{"rows": 3}'
                assert issubclass(xcom_redis.connection_pool.connection_class, redis.Connection)  # a real socket

            def test_next_test_does_not_see_those_keys(xcom_redis):
                assert xcom_redis.get("xcom-parity:make:return_value") is None
                assert xcom_redis.get("pytest-xcom-untouched") == b"still here"
            """,
            f"--xcom-redis-url={REDIS}",
            subprocess=True,
        )
        result.assert_outcomes(passed=2)
        assert server.get("pytest-xcom-untouched") == b"still here"
        assert server.keys("xcom-parity:*") == []
    finally:
        server.delete("pytest-xcom-untouched")


def test_s3_endpoint_parity_run(user_tests, monkeypatch):
    from moto.server import ThreadedMotoServer

    endpoint = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    endpoint.start()
    host, port = endpoint.get_host_and_port()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "parity-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parity-secret")
    try:
        result = user_tests(
            """
            import os, pytest
            from airflow_compat import dag, task

            @dag(schedule=None)
            def parity():
                @task
                def make():
                    return "y" * 3000
                make()

            @pytest.mark.xcom_backend("s3", threshold=1000, bucket="parity-bucket")
            def test_parity(xcom, xcom_s3):
                run = xcom.run(parity())
                run.assert_offloaded("make")
                assert os.environ["AWS_ACCESS_KEY_ID"] == "parity-key"      # the user's own credentials
                assert xcom_s3.endpoint_url == "ENDPOINT"
                assert len(xcom_s3.keys()) == 1
            """.replace("ENDPOINT", f"http://{host}:{port}"),
            f"--xcom-s3-endpoint=http://{host}:{port}",
            subprocess=True,
        )
        result.assert_outcomes(passed=1)
        import boto3

        client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
        assert len(client.list_objects_v2(Bucket="parity-bucket")["Contents"]) == 1  # it really went there
    finally:
        endpoint.stop()
