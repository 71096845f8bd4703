"""The fakes behind the backends: Redis databases, clients that outlive a test, default connections."""

import uuid

from test_real_services import needs_redis

HOOK_BACKEND = """
from airflow.providers.redis.hooks.redis import RedisHook
from xcom_backends._compat import BaseXCom, dump, load

class HookXCom(BaseXCom):
    '''Values in Redis through Airflow's hook, on a connection that names no database.'''

    @staticmethod
    def serialize_value(value, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None):
        name = f"xcom:{task_id}:{key}"
        RedisHook(redis_conn_id="xcom_cache").get_conn().set(name, dump(value))
        return BaseXCom.serialize_value("redis://" + name)

    @staticmethod
    def deserialize_value(result):
        ref = BaseXCom.deserialize_value(result)
        raw = RedisHook(redis_conn_id="xcom_cache").get_conn().get(ref[len("redis://"):])
        return load(raw)
"""

TWO_TASKS = """
from airflow_compat import dag, task

@dag(schedule=None)
def pair():
    @task
    def make():
        return {"rows": 3}
    @task
    def use(value):
        return value["rows"] * 2
    use(make())

pair_dag = pair()
"""


def test_a_hook_connection_without_a_db_is_database_0(user_tests, pytester):
    # RedisHook passes db=None when the connection names no database; real Redis reads that as 0.
    pytester.makepyfile(hook_backend=HOOK_BACKEND, pair_dag=TWO_TASKS)
    result = user_tests(
        """
        import pytest, redis
        from pair_dag import pair_dag

        @pytest.fixture
        def cache_connection(monkeypatch):
            monkeypatch.setenv("AIRFLOW_CONN_XCOM_CACHE", '{"conn_type": "redis", "host": "cache.internal", "port": 6379}')

        @pytest.mark.xcom_backend("hook_backend.HookXCom")
        def test_hook_backend(cache_connection, xcom, xcom_redis):
            run = xcom.run(pair_dag)
            run.assert_succeeded()
            assert run.value("use") == 6
            print("DB0", sorted(k.decode() for k in xcom_redis.keys("xcom:*")))
            assert xcom_redis.get("xcom:make:return_value") == b'{"rows": 3}'

        def test_a_plain_client_with_db_none(xcom_redis):
            redis.Redis(host="cache.internal", db=None).set("none", "zero")
            assert xcom_redis.get("none") == b"zero"
        """,
        "-s",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["DB0 ['xcom:make:return_value', 'xcom:use:return_value']"])


def test_xcom_redis_db_n_is_the_same_fake_server_on_database_n(user_tests):
    result = user_tests(
        """
        import redis
        from airflow_compat import dag, task

        @dag(schedule=None)
        def writer():
            @task
            def write():
                redis.Redis.from_url("redis://cache.internal:6379/2").set("where", "two")
                redis.Redis(host="cache.internal", port=6379, db=5).set("where", "five")
                redis.Redis(host="cache.internal", port=6379).set("where", "zero")
            write()

        def test_databases(xcom, xcom_redis):
            xcom.run(writer()).assert_succeeded()
            assert isinstance(xcom_redis, redis.Redis)
            assert xcom_redis.get("where") == b"zero"                  # xcom_redis itself is database 0
            assert xcom_redis.db(2).get("where") == b"two"
            assert xcom_redis.db(5).get("where") == b"five"
            assert xcom_redis.db(0).get("where") == b"zero"
            assert xcom_redis.db(7).keys("*") == []
            xcom_redis.db(7).set("seven", 7)                            # and the other way round
            assert redis.Redis(host="anywhere", db=7).get("seven") == b"7"
            assert isinstance(xcom_redis.db(3), type(xcom_redis))
            print("REPR", xcom_redis.db(3))

        def test_the_next_test_has_empty_databases(xcom_redis):
            assert [xcom_redis.db(n).keys("*") for n in (0, 2, 5, 7)] == [[], [], [], []]
        """,
        "-s",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["REPR <XComRedis: the test's fakeredis server, database 3>"])


@needs_redis
def test_clients_made_in_an_earlier_test_reach_this_tests_fake(user_tests):
    """Clients named after the real local Redis, kept in module globals across tests, never reach it."""
    import redis

    real = redis.Redis(host="127.0.0.1", port=6379)      # verification only, outside any routed test
    prefix = f"pytest-xcom-{uuid.uuid4().hex[:8]}"
    try:
        result = user_tests(
            """
            import redis
            from airflow.providers.redis.hooks.redis import RedisHook

            PREFIX = "@KEYS@"
            CLIENTS = {}

            def test_1_makes_clients_and_writes(xcom_redis):
                CLIENTS["plain"] = redis.Redis(host="localhost", port=6379)
                CLIENTS["url"] = redis.Redis.from_url("redis://localhost:6379/0")
                CLIENTS["single"] = redis.Redis(host="localhost", port=6379, single_connection_client=True)
                CLIENTS["blocking"] = redis.Redis(connection_pool=redis.BlockingConnectionPool(host="localhost", port=6379))
                CLIENTS["hook"] = RedisHook(redis_conn_id="redis_default").get_conn()
                for name, client in CLIENTS.items():
                    client.set(f"{PREFIX}:{name}:1", "first")
                assert sorted(k.decode() for k in xcom_redis.keys(f"{PREFIX}:*")) == sorted(
                    f"{PREFIX}:{name}:1" for name in CLIENTS)

            def test_2_the_same_clients_reach_this_tests_fake(xcom_redis):
                for name, client in CLIENTS.items():
                    assert client.get(f"{PREFIX}:{name}:1") is None, name
                    client.set(f"{PREFIX}:{name}:2", "second")
                    assert xcom_redis.get(f"{PREFIX}:{name}:2") == b"second", name
                assert len(xcom_redis.keys(f"{PREFIX}:*")) == len(CLIENTS)

            def test_3_and_the_next_one_too(xcom_redis):
                for name, client in CLIENTS.items():
                    assert client.keys(f"{PREFIX}:*") == [], name

            def test_4_outside_a_test_they_name_their_own_host_again():
                for name in ("plain", "url", "blocking"):
                    pool = CLIENTS[name].connection_pool
                    assert pool.connection_class is redis.Connection, name
                    assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"]) == ("localhost", 6379)
                    assert "server" not in pool.connection_kwargs
            """.replace("@KEYS@", prefix),
        )
        result.assert_outcomes(passed=4)
        assert real.keys(f"{prefix}*") == [], "a client reached the real Redis"
    finally:
        leaked = real.keys(f"{prefix}*")
        if leaked:
            real.delete(*leaked)


def test_redis_asyncio_clients_reach_this_tests_fake_never_the_real_server(user_tests):
    """redis.asyncio clients, made in task code or at import before any test, get the test's fakeredis
    server (the keyspace sync clients and xcom_redis see), whatever host they name."""
    import redis

    real = redis.Redis(host="127.0.0.1", port=6379)  # verification only, outside any routed test
    prefix = f"pytest-xcom-{uuid.uuid4().hex[:8]}"
    try:
        result = user_tests(
            """
            import asyncio
            import redis.asyncio
            from airflow_compat import dag, task

            PREFIX = "@KEYS@"
            EARLY = redis.asyncio.Redis(host="localhost", port=6379)  # made at import

            @dag(schedule=None)
            def async_cache():
                @task
                def write():
                    async def go():
                        client = redis.asyncio.Redis.from_url("redis://cache.internal:6379/0")
                        await client.set(f"{PREFIX}:task", "from a task")
                        await client.aclose()
                    asyncio.run(go())

                write()

            def test_async_clients(xcom, xcom_redis):
                xcom.run(async_cache()).assert_succeeded()
                assert xcom_redis.get(f"{PREFIX}:task") == b"from a task"

                async def early():
                    await EARLY.set(f"{PREFIX}:early", "at import")
                    return await EARLY.get(f"{PREFIX}:task")

                assert asyncio.run(early()) == b"from a task"  # the same fake server
                assert xcom_redis.get(f"{PREFIX}:early") == b"at import"
                print("ASYNC KEYS", sorted(k.decode() for k in xcom_redis.keys(f"{PREFIX}:*")))

            def test_the_next_test_starts_empty(xcom_redis):
                async def look():
                    return await EARLY.keys(f"{PREFIX}:*")

                assert asyncio.run(look()) == []

            def test_outside_a_test_the_early_client_names_its_own_host_again():
                pool = EARLY.connection_pool
                assert pool.connection_class is redis.asyncio.Connection
                assert pool.connection_kwargs["host"] == "localhost" and "server" not in pool.connection_kwargs
            """.replace("@KEYS@", prefix),
            "-s",
        )
        result.assert_outcomes(passed=3)
        result.stdout.fnmatch_lines([f"ASYNC KEYS ['{prefix}:early', '{prefix}:task']"])
        assert real.keys(f"{prefix}*") == [], "a redis.asyncio client reached the real Redis"
    finally:
        leaked = real.keys(f"{prefix}*")
        if leaked:
            real.delete(*leaked)


DEFAULT_CONNECTIONS_DAG = """
import json
from airflow_compat import dag, task

@dag(schedule=None)
def defaults():
    @task
    def via_redis_default():
        from airflow.providers.redis.hooks.redis import RedisHook
        try:
            from airflow.sdk import BaseHook  # Airflow >= 3.1
        except ImportError:
            from airflow.hooks.base import BaseHook  # Airflow 3.0 and 2
        conn = BaseHook.get_connection("redis_default")
        RedisHook().get_conn().set("from-the-hook", "yes")
        return {"conn_type": conn.conn_type, "host": conn.host}

    @task
    def via_aws_default():
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        hook = S3Hook(aws_conn_id="aws_default")
        if not hook.check_for_bucket("made-by-a-task"):
            hook.create_bucket("made-by-a-task")
        hook.load_string("hello", key="greeting.txt", bucket_name="made-by-a-task", replace=True)
        return {"read": hook.read_key("greeting.txt", bucket_name="made-by-a-task"),
                "buckets": sorted(b["Name"] for b in hook.get_conn().list_buckets()["Buckets"])}

    via_redis_default()
    via_aws_default()

defaults_dag = defaults()
"""


def test_default_connections_reach_the_fakes(user_tests, pytester):
    pytester.makepyfile(defaults_dag=DEFAULT_CONNECTIONS_DAG)
    result = user_tests(
        """
        import json, os
        import boto3
        from defaults_dag import defaults_dag

        def test_hooks_on_the_default_connections(xcom, xcom_redis, xcom_moto_server):
            run = xcom.run(defaults_dag)
            run.assert_succeeded()
            assert run.value("via_redis_default")["conn_type"] == "redis"
            assert xcom_redis.get("from-the-hook") == b"yes"
            assert run.value("via_aws_default") == {"read": "hello", "buckets": ["made-by-a-task"]}
            aws = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
            print("AWS", aws["conn_type"], aws["login"], aws["password"], aws["extra"])
            assert aws["extra"]["endpoint_url"] == xcom_moto_server.endpoint_url
            # the plain AWS endpoint still fails fast: only the aws_default connection names the mock
            assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"

        def test_the_mock_is_reset_for_the_next_test(xcom, xcom_moto_server):
            aws = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
            client = boto3.client("s3", endpoint_url=aws["extra"]["endpoint_url"])
            assert client.list_buckets()["Buckets"] == []

        def test_outside_the_fixtures_they_are_gone():
            assert "AIRFLOW_CONN_AWS_DEFAULT" not in os.environ and "AIRFLOW_CONN_REDIS_DEFAULT" not in os.environ
        """,
        "-s",
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["AWS aws testing testing {'endpoint_url': 'http://127.0.0.1:*', 'region_name': 'us-east-1'}"]
    )


def test_the_users_own_default_connections_win(user_tests, pytester, monkeypatch):
    pytester.makepyfile(defaults_dag=DEFAULT_CONNECTIONS_DAG)
    monkeypatch.delenv("AIRFLOW_CONN_REDIS_DEFAULT", raising=False)
    result = user_tests(
        """
        import json, os, pytest
        from airflow_compat import dag, task

        @dag(schedule=None)
        def which():
            @task
            def hosts():
                try:
                    from airflow.sdk import BaseHook  # Airflow >= 3.1
                except ImportError:
                    from airflow.hooks.base import BaseHook  # Airflow 3.0 and 2 and 2
                return {name: BaseHook.get_connection(name).host for name in ("redis_default", "aws_default")}
            hosts()

        @pytest.fixture
        def users_redis(monkeypatch):
            monkeypatch.setenv("AIRFLOW_CONN_REDIS_DEFAULT", "redis://users-redis.internal:6379/3")

        def test_the_default_connections_cost_no_mock_until_s3_is_reached(xcom, xcom_moto_server):
            xcom.run(which()).assert_succeeded()
            aws = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
            assert aws["extra"]["endpoint_url"] == xcom_moto_server.endpoint_url   # its port, reserved
            assert not xcom_moto_server.started                                    # moto itself: not started

        def test_set_by_a_fixture_before_the_harness(users_redis, xcom):
            run = xcom.run(which())
            assert run.value("hosts")["redis_default"] == "users-redis.internal"
            assert run.value("hosts")["aws_default"] is None               # the harness's, on the mock

        def test_set_in_the_test_before_the_run(xcom):
            os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = '{"conn_type": "aws", "host": "users-aws"}'
            run = xcom.run(which())
            assert run.value("hosts")["aws_default"] == "users-aws"
            assert json.loads(os.environ["AIRFLOW_CONN_REDIS_DEFAULT"])["conn_type"] == "redis"

        def test_the_users_own_value_is_left_alone_afterwards():
            assert os.environ.pop("AIRFLOW_CONN_AWS_DEFAULT") == '{"conn_type": "aws", "host": "users-aws"}'
            assert "AIRFLOW_CONN_REDIS_DEFAULT" not in os.environ
        """,
    )
    result.assert_outcomes(passed=4)
