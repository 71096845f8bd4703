"""Airflow's object-storage XCom backend on a mocked S3: what leaves the DB, and what stays."""

import gzip
import json
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).parent.parent / "large_values.py"


@pytest.mark.xcom_backend("s3", threshold="4KB", compression="gzip")
def test_big_values_go_to_s3_and_small_ones_stay_inline(xcom, xcom_s3):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    run.assert_offloaded("extract")          # ~40 KB: written to the bucket
    run.assert_inline("summarize")           # a few bytes: kept in the metadata DB
    run.assert_max_size(200, stored=True)    # what the DB holds is small either way
    assert run.value("publish") == "400 events on 2026-01-01"   # consumers got data, not a URI

    (key,) = xcom_s3.keys(prefix="xcom/large_values/")
    assert key.endswith(".gz")
    events = json.loads(gzip.decompress(xcom_s3.read(key)))
    assert len(events) == 400
    print(run.report())


def test_the_same_dag_without_offloading_keeps_everything_in_the_db(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))   # the default "db" backend
    run.assert_inline("extract")
    assert run.stored_size("extract") == run.size("extract") > 35_000
    with pytest.raises(AssertionError, match="exceed the stored size limit"):
        run.assert_max_size("4KB", stored=True)
