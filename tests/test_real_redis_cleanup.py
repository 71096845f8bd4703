"""--xcom-redis-url: the harness undoes exactly what its test's clients wrote (issue #14 item 2).

Runs against the real Redis on this machine (database 7), with a second process writing keys at
the same time; skipped when no Redis listens on 127.0.0.1:6379.
"""

import subprocess
import sys
import textwrap

import pytest

redis = pytest.importorskip("redis")
URL = "redis://127.0.0.1:6379/7"


@pytest.fixture
def real_redis():
    client = redis.Redis.from_url(URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


WRITER = textwrap.dedent(
    f"""
    import time, redis
    client = redis.Redis.from_url({URL!r})
    for n in range(40):
        client.set(f"concurrent:{{n}}", n)
        time.sleep(0.05)
    """
)


@pytest.mark.bad_input("real-redis-concurrent-writers")
def test_only_keys_the_tests_clients_wrote_are_undone_even_with_concurrent_writers_and_xdist(
    user_tests, pytester, real_redis
):
    real_redis.set("shared:key", "old")
    real_redis.set("other:preexisting", "keep")
    real_redis.set("ttl:key", "old", px=600_000)
    pytester.makepyfile(
        test_a="""
        import time, redis

        def test_writes_and_changes(xcom_redis):
            client = redis.Redis(host="anything", port=1)      # routed to the --xcom-redis-url server
            client.set("mine:a", 1)
            client.set("shared:key", "changed")
            client.delete("other:preexisting")
            client.set("ttl:key", "new")                       # drops the TTL: must come back with it
            time.sleep(1.5)                                    # the writer and the other worker run meanwhile
            assert xcom_redis.get("shared:key") == b"changed"
        """,
        test_b="""
        import time, redis

        def test_other_worker(xcom_redis):
            redis.Redis().set("mine:b", 2)
            time.sleep(1.5)
            assert xcom_redis.get("mine:b") == b"2"            # the other worker never deleted it
        """,
    )
    writer = subprocess.Popen([sys.executable, "-c", WRITER])
    try:
        result = pytester.runpytest_subprocess(
            "-p", "no:randomly", "-p", "no:cacheprovider", "-n", "2", f"--xcom-redis-url={URL}"
        )
    finally:
        writer.wait(timeout=60)
    result.assert_outcomes(passed=2)
    assert real_redis.get("mine:a") is None and real_redis.get("mine:b") is None
    assert real_redis.get("shared:key") == b"old"
    assert real_redis.get("other:preexisting") == b"keep"
    assert real_redis.get("ttl:key") == b"old" and real_redis.pttl("ttl:key") > 0
    assert sorted(int(k.split(b":")[1]) for k in real_redis.keys("concurrent:*")) == list(range(40))


def test_redis_asyncio_clients_are_refused_on_a_real_server_with_a_clear_error(pytester, real_redis):
    """With --xcom-redis-url an async client's writes could not be undone: it must not reach the
    server, and the error must say why and what to do."""
    real_redis.set("keep", "old")
    pytester.makepyfile(
        test_async="""
        import asyncio, pytest, redis, redis.asyncio

        def test_refused(xcom_redis):
            async def write():
                client = redis.asyncio.Redis(host="anything", port=1)
                await client.set("keep", "changed by an async client")

            with pytest.raises(redis.ConnectionError) as caught:
                asyncio.run(write())
            print("REFUSED:", caught.value)
            redis.Redis(host="anything").set("mine", 1)        # sync clients still reach it, undone after
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", "-s", f"--xcom-redis-url={URL}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*REFUSED: pytest-xcom: redis.asyncio clients are not routed to a real Redis*"])
    assert real_redis.get("keep") == b"old"
    assert real_redis.get("mine") is None
