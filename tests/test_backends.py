"""XCom backends on mocked S3 and Redis, users' own backends, switching, bad input, frozen time."""

import pytest

from airflow_compat import AIRFLOW2

THRESHOLD_DAG = """
from airflow_compat import dag, task

@dag(schedule=None)
def sizes():
    @task
    def tiny():
        return "x" * 10            # 12 bytes of JSON: below the threshold
    @task
    def exact():
        return "x" * 98            # 100 bytes of JSON: at the threshold
    @task
    def big():
        return "x" * 5000          # far above it
    @task
    def consume(a, b, c):
        return [len(a), len(b), len(c)]
    consume(tiny(), exact(), big())

sizes_dag = sizes()
"""


def test_s3_backend_threshold_and_compression(user_tests, pytester):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    result = user_tests(
        """
        import gzip, json, pytest
        from sizes_dag import sizes_dag

        @pytest.mark.xcom_backend("s3", threshold=100, compression="gzip", bucket="lake", prefix="runs/xcom")
        def test_threshold(xcom, xcom_s3):
            run = xcom.run(sizes_dag)
            run.assert_succeeded()
            run.assert_inline("tiny")
            run.assert_offloaded("exact")          # at the threshold: offloaded
            run.assert_offloaded("big")
            assert run.value("consume") == [10, 98, 5000]   # consumers get values, not references
            run.assert_round_trip()
            assert all(p.received_reference is None for p in run.pulls)
            big = run.pushed_by("big").get()
            assert big.size == 5002 and big.stored_size < 200
            assert big.stored.startswith("s3://pytest_xcom_s3@lake/runs/xcom/sizes/")
            assert big.stored.endswith(".gz")
            assert xcom_s3.bucket == "lake"
            keys = xcom_s3.keys(prefix="runs/xcom/")
            assert len(keys) == 2
            stored = sorted(json.loads(gzip.decompress(xcom_s3.read(k))) for k in keys)
            assert stored == ["x" * 98, "x" * 5000]
            assert run.backend == "s3"
        """,
    )
    result.assert_outcomes(passed=1)


VANISHING_DAG = """
import boto3
from airflow_compat import dag, task

@dag(schedule=None)
def vanishing():
    @task
    def produce():
        return {"rows": list(range(200))}
    @task
    def vanish():               # someone deletes the object between the push and the read
        s3 = boto3.client("s3")
        for item in s3.list_objects_v2(Bucket="lake").get("Contents", []):
            s3.delete_object(Bucket="lake", Key=item["Key"])
    @task
    def consume(data):
        return type(data).__name__
    rows = produce()
    rows >> vanish() >> consume(rows)

vanishing_dag = vanishing()
"""


def test_a_reader_given_the_stored_reference_fails_the_round_trip(user_tests, pytester):
    # Airflow's object-storage backend hands a reader the stored path when the object is missing.
    # The run succeeds; only what the reader really received shows that it worked on a string.
    pytester.makepyfile(vanishing_dag=VANISHING_DAG)
    result = user_tests(
        """
        import pytest
        from vanishing_dag import vanishing_dag

        @pytest.mark.xcom_backend("s3", threshold=100, bucket="lake")
        def test_vanished(xcom, xcom_s3):
            run = xcom.run(vanishing_dag)
            run.assert_succeeded()
            assert run.value("consume") == "str"
            (read,) = [p for p in run.pulls if p.task_id == "consume"]
            assert read.received_reference == run.pushed_by("produce").get().stored
            (entry,) = run.manifest()["pulls"]["consume"]
            assert entry["received"] == "the stored reference"
            run.assert_round_trip()
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 XCom(s) of DAG 'vanishing' do not reach their readers as pushed (backend 's3'):",
            "*produce key 'return_value':",
            "*received by consume: the stored reference 's3://pytest_xcom_s3@lake/xcom/vanishing/*', not the value",
            "*A reader got the stored reference instead of the value*",
        ]
    )


def test_backends_switch_between_runs_and_are_restored(user_tests, pytester):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    pytester.makepyfile(
        my_backends="""
        import json
        from airflow_compat import BaseXCom

        class Wrapping(BaseXCom):
            @staticmethod
            def serialize_value(value, **kwargs):
                return BaseXCom.serialize_value({"wrapped": value})
            @staticmethod
            def deserialize_value(result):
                return BaseXCom.deserialize_value(result)["wrapped"]
        """
    )
    result = user_tests(
        """
        import pytest
        from sizes_dag import sizes_dag

        @pytest.mark.xcom_backend("s3", threshold=100)
        def test_switch(xcom):
            first = xcom.run(sizes_dag)
            second = xcom.run(sizes_dag, backend="db")
            third = xcom.run(sizes_dag, backend="my_backends.Wrapping")
            fourth = xcom.run(sizes_dag, backend="s3", backend_options={"threshold": 0})
            assert [r.backend for r in xcom.runs] == ["s3", "db", "my_backends.Wrapping", "s3"]
            first.assert_offloaded("big"); first.assert_inline("tiny")
            second.assert_inline("big")
            third.assert_offloaded("tiny")                      # the row holds {"wrapped": ...}
            assert third.pushed_by("tiny").get().stored == {"wrapped": "x" * 10}
            fourth.assert_offloaded("tiny")                     # threshold 0: everything
            for run in xcom.runs:
                assert run.value("consume") == [10, 98, 5000]

        def test_afterwards_airflow_resolves_its_own_backend_again():
            from airflow_compat import AIRFLOW2, BaseXCom
            if AIRFLOW2:
                from airflow.models import taskinstance as task_runner, xcom
            else:
                from airflow.sdk.execution_time import task_runner, xcom
            assert xcom.XCom is BaseXCom and task_runner.XCom is BaseXCom
        """,
    )
    result.assert_outcomes(passed=2)


def test_backend_option_and_ini(user_tests, pytester):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    pytester.makeini("[pytest]\nxcom_backend = s3\n")
    source = """
        from sizes_dag import sizes_dag

        def test_default_backend(xcom):
            run = xcom.run(sizes_dag)
            assert run.backend == "BACKEND"
        """
    user_tests(source.replace("BACKEND", "s3")).assert_outcomes(passed=1)
    user_tests(source.replace("BACKEND", "db"), "--xcom-backend=db").assert_outcomes(passed=1)


REDIS_BACKEND = """
import os
import redis
from xcom_backends._compat import BaseXCom, dump, load

class RedisXCom(BaseXCom):
    @staticmethod
    def serialize_value(value, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None):
        client = redis.Redis(host="10.20.30.40", port=6390, socket_connect_timeout=1)
        name = f"xcom:{task_id}:{map_index}:{key}"
        client.set(name, dump(value))
        return BaseXCom.serialize_value("redis://" + name)

    @staticmethod
    def deserialize_value(result):
        ref = BaseXCom.deserialize_value(result)
        client = redis.Redis.from_url("redis://cache.nowhere.invalid:6379/0")
        raw = client.get(ref[len("redis://"):])
        return load(raw)
"""


def test_user_redis_backend_with_an_unreachable_host_still_works(user_tests, pytester):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG, redis_backend=REDIS_BACKEND)
    result = user_tests(
        """
        import pytest
        from sizes_dag import sizes_dag

        @pytest.mark.xcom_backend("redis_backend.RedisXCom")
        def test_redis(xcom, xcom_redis):
            run = xcom.run(sizes_dag)
            run.assert_succeeded()
            run.assert_offloaded("big")
            assert run.value("consume") == [10, 98, 5000]
            assert sorted(k.decode() for k in xcom_redis.keys("xcom:*")) == [
                "xcom:big:-1:return_value", "xcom:consume:-1:return_value",
                "xcom:exact:-1:return_value", "xcom:tiny:-1:return_value"]

        def test_next_test_starts_with_empty_fakes(xcom_redis, xcom_s3):
            assert xcom_redis.keys("*") == [] and xcom_s3.keys() == []
        """,
    )
    result.assert_outcomes(passed=2)


def test_a_redis_client_made_at_import_reaches_each_tests_own_fake(user_tests):
    # In a subprocess with the loopback guard: a real connection attempt would fail the test.
    result = user_tests(
        """
        import redis

        EARLY = redis.Redis(host="10.20.30.40", port=6390, socket_connect_timeout=1)  # at import
        QUEUED = redis.Redis(connection_pool=redis.BlockingConnectionPool(host="10.20.30.41", port=1))

        def test_writes(xcom_redis):
            EARLY.set("early", "bird")
            QUEUED.set("queued", "too")
            assert xcom_redis.get("early") == b"bird" and xcom_redis.get("queued") == b"too"

        def test_the_next_test_has_its_own_fake(xcom_redis):
            assert EARLY.get("early") is None and QUEUED.get("queued") is None

        def test_the_clients_point_at_their_own_hosts_again_after_a_test():
            kwargs = EARLY.connection_pool.connection_kwargs
            assert EARLY.connection_pool.connection_class is redis.Connection
            assert (kwargs["host"], kwargs["port"], "server" in kwargs) == ("10.20.30.40", 6390, False)
        """,
        subprocess=True,
    )
    result.assert_outcomes(passed=3)


def test_fixtures_are_fresh_for_every_test(user_tests):
    result = user_tests(
        """
        import boto3, redis

        def test_writes(xcom_s3, xcom_redis):
            xcom_s3.client.put_object(Bucket=xcom_s3.bucket, Key="left/over.json", Body=b"{}")
            redis.Redis(host="anything", port=1).set("left", "over")   # any client reaches the fake
            assert xcom_redis.get("left") == b"over"
            assert xcom_s3.read("left/over.json") == b"{}"

        def test_sees_nothing(xcom_s3, xcom_redis):
            assert xcom_s3.keys() == [] and xcom_redis.get("left") is None
            boto3.client("s3").create_bucket(Bucket="other")    # plain boto3 reaches the mock too
            assert "other" in [b["Name"] for b in xcom_s3.client.list_buckets()["Buckets"]]

        def test_read_of_a_missing_object_is_clear(xcom_s3):
            import pytest
            with pytest.raises(KeyError, match="no object 'nope' in the mocked bucket 'pytest-xcom'"):
                xcom_s3.read("nope")
        """,
    )
    result.assert_outcomes(passed=3)


def test_fake_aws_credentials_are_forced_and_the_environment_restored(user_tests, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALREALREAL1234")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    result = user_tests(
        """
        import os, boto3

        def test_inside(xcom_s3):
            credentials = boto3.Session().get_credentials()
            assert (credentials.access_key, credentials.secret_key, credentials.token) == ("testing", "testing", None)
            assert "AWS_PROFILE" not in os.environ
            assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")

        def test_outside_the_fixtures_the_environment_is_back():
            assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALREALREAL1234"
            assert os.environ["AWS_PROFILE"] == "production" and "AWS_ENDPOINT_URL" not in os.environ
        """,
    )
    result.assert_outcomes(passed=2)


def test_without_the_s3_mock_aws_calls_fail_fast_instead_of_reaching_aws(user_tests):
    result = user_tests(
        """
        import boto3, pytest, botocore.exceptions

        def test_db_run_task_code_cannot_reach_aws(xcom):
            client = boto3.client("s3", config=botocore.config.Config(retries={"max_attempts": 1}))
            with pytest.raises(botocore.exceptions.EndpointConnectionError, match="127.0.0.1:9"):
                client.list_buckets()
        """,
    )
    result.assert_outcomes(passed=1)


BASE_XCOM = "airflow.models.xcom.BaseXCom" if AIRFLOW2 else "airflow.sdk.bases.xcom.BaseXCom"


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ("no_such_module.MyXCom", "XCom backend 'no_such_module.MyXCom': cannot import module 'no_such_module': No module named 'no_such_module'"),
        ("json.NoSuchXCom", "XCom backend 'json.NoSuchXCom': module 'json' has no attribute 'NoSuchXCom'; its classes: JSONDecodeError, JSONDecoder, JSONEncoder"),
        ("json.JSONDecoder", f"XCom backend 'json.JSONDecoder' is not a subclass of {BASE_XCOM} (it is <class 'json.decoder.JSONDecoder'>)"),
        ("mongo", "XCom backend 'mongo' is neither 'db', 's3', 'gcs', 'azure' nor a dotted path such as 'my_project.xcom_backend.MyXCom'"),
    ],
)
def test_bad_backend_paths(user_tests, pytester, backend, message):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    result = user_tests(
        f"""
        import pytest
        from pytest_xcom import BackendError
        from sizes_dag import sizes_dag

        def test_bad(xcom):
            with pytest.raises(BackendError) as info:
                xcom.run(sizes_dag, backend={backend!r})
            print("MESSAGE", info.value)
            assert xcom.runs == []
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*MESSAGE {message}".replace("[", "[[]")])


def test_bad_backend_options_and_markers(user_tests):
    result = user_tests(
        """
        import pytest

        @pytest.mark.xcom_backend("s3", treshold=10)
        def test_typo(xcom):
            pass

        @pytest.mark.xcom_backend("db", threshold=10)
        def test_db_options(xcom):
            pass

        @pytest.mark.xcom_backend(threshold=10)
        def test_no_name(xcom):
            pass

        @pytest.mark.xcom_backend("s3", threshold="10 parsecs")
        def test_bad_threshold(xcom):
            pass

        @pytest.mark.xcom_backend("s3", compression="zipzap")
        def test_bad_compression(xcom):
            pass
        """
    )
    result.assert_outcomes(errors=5)
    result.stdout.fnmatch_lines_random(
        [
            "*test_typo: @pytest.mark.xcom_backend: unknown option(s) treshold for XCom backend 's3'; it accepts: threshold, compression, bucket, prefix",
            "*test_db_options: @pytest.mark.xcom_backend: XCom backend 'db' takes no options (got threshold)*",
            "*test_no_name: @pytest.mark.xcom_backend takes the backend name as its one positional argument*",
            "*test_bad_threshold: @pytest.mark.xcom_backend: s3 backend option threshold: cannot read size limit '10 parsecs'*",
            "*test_bad_compression: @pytest.mark.xcom_backend: s3 backend option compression='zipzap' is not a compression fsspec knows*",
        ]
    )


def test_freeze_time_is_seen_by_task_code(user_tests):
    result = user_tests(
        """
        import datetime, time, pytest
        import pendulum
        from airflow_compat import dag, task

        @dag(schedule=None)
        def clock():
            @task
            def now():
                return {"datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                        "time": time.time(), "pendulum": pendulum.now("UTC").isoformat(),
                        "today": datetime.date.today().isoformat()}
            now()

        clock_dag = clock()

        def test_frozen_at_a_moment(xcom):
            run = xcom.run(clock_dag, freeze_time="2030-05-17T08:30:00+00:00")
            run.assert_succeeded()
            assert run.value("now") == {"datetime": "2030-05-17T08:30:00+00:00", "time": 1905237000.0,
                                        "pendulum": "2030-05-17T08:30:00+00:00", "today": "2030-05-17"}

        def test_true_freezes_at_the_logical_date(xcom):
            run = xcom.run(clock_dag, logical_date="2025-02-03", freeze_time=True)
            assert run.value("now")["datetime"] == "2025-02-03T00:00:00+00:00"

        def test_not_frozen_by_default(xcom):
            run = xcom.run(clock_dag)
            assert run.value("now")["today"] == datetime.date.today().isoformat()

        def test_bad_freeze_time(xcom):
            with pytest.raises(ValueError, match="freeze_time='next tuesday' is not a datetime, an ISO 8601 string"):
                xcom.run(clock_dag, freeze_time="next tuesday")
        """,
    )
    result.assert_outcomes(passed=4)


def test_the_loopback_guard_is_active(user_tests):
    import socket

    with pytest.raises(OSError, match="loopback guard"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    result = user_tests(
        """
        import socket, pytest

        def test_guarded_in_a_subprocess_too():
            with pytest.raises(OSError, match="loopback guard"):
                socket.create_connection(("example.com", 443), timeout=1)
        """,
        subprocess=True,
    )
    result.assert_outcomes(passed=1)


@pytest.mark.bad_input("backend-module-raises-at-import")
def test_a_backend_module_that_raises_at_import_is_named(user_tests, pytester):
    pytester.makepyfile(flaky_backend="raise RuntimeError('REDIS_URL is not set')\n")
    result = user_tests(
        """
        import pytest
        from airflow_compat import dag, task
        from pytest_xcom import BackendError

        @dag(schedule=None)
        def one():
            @task
            def t():
                return 1
            t()

        def test_case(xcom):
            with pytest.raises(BackendError) as info:
                xcom.run(one(), backend="flaky_backend.RedisXCom")
            print("MESSAGE", info.value)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*MESSAGE XCom backend 'flaky_backend.RedisXCom': importing module 'flaky_backend' raised "
         "RuntimeError: REDIS_URL is not set"]
    )


@pytest.mark.bad_input("invalid-s3-bucket-name")
def test_an_invalid_bucket_name_is_refused_when_the_marker_is_read(user_tests):
    result = user_tests(
        """
        import pytest

        @pytest.mark.xcom_backend("s3", bucket="My_Bucket")
        def test_case(xcom):
            raise AssertionError("never reached: the marker is refused first")
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.xcom_backend: s3 backend option bucket='My_Bucket' is not a valid S3 bucket name: "
         "use lowercase letters, digits, dots and hyphens*"]
    )


@pytest.mark.skipif(not AIRFLOW2, reason="the gcs and azure backends run on Airflow 3; this checks the error on 2")
@pytest.mark.parametrize("store", ["gcs", "azure"])
def test_gcs_and_azure_on_airflow_2_say_they_need_airflow_3(user_tests, pytester, store):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    result = user_tests(
        f"""
        import pytest
        from pytest_xcom import BackendError
        from sizes_dag import sizes_dag

        def test_case(xcom):
            with pytest.raises(BackendError) as info:
                xcom.run(sizes_dag, backend={store!r})
            print("MESSAGE", info.value)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*MESSAGE the '{store}' XCom backend needs Airflow 3 (this is Airflow 2.*); on Airflow 2 use 's3'*"])
