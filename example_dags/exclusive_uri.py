"""The "exclusive" XCom: a task stages a file and hands its URI to exactly ONE consumer.

Pattern: ``export_orders`` writes the day's orders to object storage and pushes only the
reference (``s3://lake/exports/<ds>/orders.parquet``) under the key "uri"; its return value is
a small summary (row count, checksum). ``load_to_warehouse`` is the one task meant to read the
URI: it loads the file and then deletes the staged copy. ``check_quality`` and ``notify`` work
from the summary and never touch the file.

What can go wrong with XCom here:
- A second task starts reading the URI (an audit, a "link in the Slack message"): it races the
  loader, which deletes the staged file, and with a read-once XCom backend one of them gets
  nothing. The test pins the set of readers with ``assert_exclusive``.
- Someone "simplifies" the DAG by pushing the rows instead of the URI: the XCom grows with the
  data and leaves the size budget.
- Building the URI from the wall clock instead of ``ds`` makes retries write a new file.

Object storage is faked with a module-level dict, so the DAG runs offline under ``dag.test()``.
"""

import hashlib
import json
import random
from datetime import datetime, timezone

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task

FAKE_LAKE: dict[str, bytes] = {}  # stand-in for s3://lake


@dag(dag_id="exclusive_uri", schedule="@daily", catchup=False,
     start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), tags=["example", "xcom"])
def exclusive_uri():
    @task
    def export_orders(ti=None, ds=None):
        rng = random.Random(ds)
        rows = [{"order_id": i, "amount_cents": rng.randint(500, 25_000)} for i in range(1, 501)]
        payload = "\n".join(json.dumps(row) for row in rows).encode()
        uri = f"s3://lake/exports/{ds}/orders.parquet"
        FAKE_LAKE[uri] = payload
        ti.xcom_push(key="uri", value=uri)
        return {"rows": len(rows), "sha256": hashlib.sha256(payload).hexdigest()}

    @task
    def load_to_warehouse(uri, summary):
        payload = FAKE_LAKE.pop(uri)  # load, then drop the staged copy
        if hashlib.sha256(payload).hexdigest() != summary["sha256"]:
            raise ValueError(f"{uri} does not match the export checksum")
        return {"table": "analytics.orders", "rows": len(payload.splitlines())}

    @task
    def check_quality(summary):
        if summary["rows"] < 100:
            raise ValueError(f"only {summary['rows']} orders exported")
        # returns None: a gate pushes no XCom

    @task
    def notify(summary, loaded):
        return f"{loaded['rows']}/{summary['rows']} orders loaded into {loaded['table']}"

    exported = export_orders()
    loaded = load_to_warehouse(exported["uri"], exported)
    check_quality(exported) >> loaded
    notify(exported, loaded)


exclusive_uri()
