"""The team's own XCom backends, run unchanged: boto3 reaches moto, redis reaches fakeredis."""

from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

DAG_FILE = Path(__file__).parent.parent / "large_values.py"
# Airflow 3.4 keeps each attempt's XComs; before, a new attempt deletes the previous one's.
KEEPS_XCOMS_PER_ATTEMPT = Version(Version(version("apache-airflow")).base_version) >= Version("3.4")


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
    # xcom:<dag>:<run>:<task>:<map index, or ti-<attempt id> from Airflow 3.4>:<key>
    prefix = "xcom:large_values:manual__2026-01-01T00:00:00+00:00"
    keys = sorted(key.decode() for key in xcom_redis.keys("xcom:*"))
    assert [key.split(":")[-3] for key in keys] == ["extract", "publish", "summarize"]
    assert all(key.startswith(prefix) and key.endswith(":return_value") for key in keys), keys

    rerun = xcom.clear_and_rerun(dag, ["extract"])              # as the UI's Clear does
    first, second = run.pushed_by("extract").get(), rerun.pushed_by("extract").get()
    if KEEPS_XCOMS_PER_ATTEMPT:
        # Airflow 3.4: the first attempt keeps its row and its Redis key; the new one writes its own.
        assert rerun.deletes == [] and first.stored != second.stored
        assert len(xcom_redis.keys("xcom:*")) == 4
    else:
        # Before: the new attempt deletes the old row first, and the backend purges its key.
        assert [(d.task_id, d.key, d.purged) for d in rerun.deletes] == [("extract", "return_value", True)]
