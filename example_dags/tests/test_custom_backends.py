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
def test_redis_backend_keeps_each_xcom_in_its_own_key(xcom, xcom_redis):
    dag = xcom.load_dag(DAG_FILE)
    run = xcom.run(dag)
    run.assert_succeeded()

    run.assert_exclusive("extract", consumers={"summarize"})   # who reads it is the tests' job
    run.assert_offloaded("extract")
    prefix = "xcom:large_values:manual__2026-01-01T00:00:00+00:00"
    assert sorted(key.decode() for key in xcom_redis.keys("xcom:*")) == [
        f"{prefix}:extract:-1:return_value",
        f"{prefix}:publish:-1:return_value",
        f"{prefix}:summarize:-1:return_value",
    ]
    # Clearing a task (as the UI's Clear does) purges its key before it writes a new one.
    rerun = xcom.clear_and_rerun(dag, ["extract"])
    assert [(d.task_id, d.key, d.purged) for d in rerun.deletes] == [("extract", "return_value", True)]
