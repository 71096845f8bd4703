"""The team's own XCom backends, run unchanged: boto3 reaches moto, redis reaches fakeredis."""

from pathlib import Path

import pytest

DAG_FILE = Path(__file__).parent.parent / "large_values.py"


@pytest.mark.xcom_backend("xcom_backends.s3_xcom.S3XComBackend")
def test_s3_backend_stores_every_value_in_the_bucket(xcom, xcom_s3, monkeypatch):
    monkeypatch.setenv("XCOM_S3_BUCKET", xcom_s3.bucket)
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    for task_id in ("extract", "summarize", "publish"):
        run.assert_offloaded(task_id)
    assert run.value("publish") == "400 events on 2026-01-01"
    assert run.pushed_by("extract").get().stored.startswith(f"s3://{xcom_s3.bucket}/xcom/large_values/")
    assert len(xcom_s3.keys(prefix="xcom/")) == 3


@pytest.mark.xcom_backend("xcom_backends.redis_xcom.ExclusiveRedisXCom")
def test_exclusive_redis_backend_hands_each_value_to_one_reader(xcom, xcom_redis):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    run.assert_exclusive("extract", consumers={"summarize"})
    run.assert_offloaded("extract")
    # read once, then gone from Redis; the final result was never read, so it is still there
    remaining = sorted(key.decode() for key in xcom_redis.keys("xcom:*"))
    assert remaining == ["xcom:large_values:manual__2026-01-01T00:00:00+00:00:publish:-1:return_value"]
