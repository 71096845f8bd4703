"""Fan-out / fan-in over the day's partitions with dynamic task mapping (``.expand()``).

Pattern: ``list_partitions`` returns a list; ``count_rows.expand(partition=...)`` creates one
task instance per element, each pushing its own XCom at its own map index; ``total`` receives
all of them as one lazy sequence and sums it. ``reprocess_late`` maps over a list that usually
holds a single late partition.

What can go wrong with XCom here:
- The number of mapped instances is decided at run time by the upstream XCom: an empty
  partition list runs zero instances, SKIPS the fan-in, and the DAG run is still green.
- Each mapped instance pushes its own XCom: many partitions times a large result is many rows
  in the metadata DB. Return a count or a URI, not the rows.
- The fan-in gets a lazy sequence, not a list: returning it as is fails in Airflow 3.3 with
  "Cannot serialize object of type BaseOperatorMeta"; ``list()`` it first.
- A single-element expansion must still reach the fan-in as a one-element list, not as a bare
  value: code that does ``sum(counts)`` or ``for c in counts`` depends on that.
"""

import zlib
from datetime import datetime, timezone

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task

TABLE = "orders"


@dag(
    dag_id="fan_out_fan_in",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"n_partitions": 4},
    tags=["example", "xcom"],
)
def fan_out_fan_in():
    @task
    def list_partitions(params=None, ds=None):
        return [f"{TABLE}/dt={ds}/part-{n:03d}" for n in range(params["n_partitions"])]

    @task
    def count_rows(partition):
        # Stand-in for reading a Parquet footer: a deterministic row count per partition name.
        return 1_000 + zlib.crc32(partition.encode()) % 500

    @task
    def total(counts):
        counts = list(counts)  # a lazy sequence of the mapped XComs; list() reads them all
        return {"partitions": len(counts), "rows": sum(counts)}

    @task
    def late_partitions(ds=None):
        return [f"{TABLE}/dt={ds}/late-000"]

    @task
    def reprocess_late(partition):
        return {"partition": partition, "status": "reprocessed"}

    @task
    def report_late(results):
        return [r["partition"] for r in results]

    total(count_rows.expand(partition=list_partitions()))
    report_late(reprocess_late.expand(partition=late_partitions()))


fan_out_fan_in()
