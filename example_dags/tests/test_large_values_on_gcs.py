"""Airflow's object-storage XCom backend on an emulated GCS bucket: what leaves the DB, and what stays."""

import json
from pathlib import Path

import pytest

pytest.importorskip("gcp_storage_emulator", reason='the GCS example needs pip install "pytest-xcom[gcs]"')

DAG_FILE = Path(__file__).parent.parent / "large_values.py"


# No compression on GCS: the object-storage backend leaves a compressed write open and gcsfs uploads
# it from a background thread, so the next task can read before the object exists
# (docs/how-to/object-storage.md, "Compression on GCS races the next reader").
# run.assert_round_trip() reports a reader that got the reference instead.
@pytest.mark.xcom_backend("gcs", threshold="4KB")
def test_big_values_go_to_gcs_and_small_ones_stay_inline(xcom, xcom_gcs):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    run.assert_offloaded("extract")          # ~40 KB: written to the bucket
    run.assert_inline("summarize")           # a few bytes: kept in the metadata DB
    run.assert_max_size(200, stored=True)    # what the DB holds is small either way
    assert run.value("publish") == "400 events on 2026-01-01"   # consumers got data, not a URI
    run.assert_round_trip()
    assert run.pushed_by("extract").get().stored.startswith("gs://pytest_xcom_gcs@pytest-xcom/xcom/large_values/")

    (key,) = xcom_gcs.keys(prefix="xcom/large_values/")
    events = json.loads(xcom_gcs.read(key))
    assert len(events) == 400


@pytest.mark.xcom_backend("xcom_backends.gcs_xcom.GCSXComBackend")
def test_a_gcs_backend_of_your_own_runs_unchanged(xcom, xcom_gcs, monkeypatch):
    monkeypatch.setenv("XCOM_GCS_BUCKET", xcom_gcs.bucket)      # the backend reads its bucket from env
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_offloaded("extract")
    assert run.value("publish") == "400 events on 2026-01-01"
    assert len(xcom_gcs.keys(prefix="xcom/large_values/")) == len(run.pushes)
