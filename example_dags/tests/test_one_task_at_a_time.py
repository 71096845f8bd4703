"""Partial runs: test one task of a DAG with its upstream XComs given, not computed.

``xcom.run(dag, tasks=[...], upstream=...)`` runs only ``tasks``; every other task is marked
success without running, and ``upstream`` supplies the XComs they would have pushed. The extract
of a real ETL may take twenty minutes and need credentials; its transform can be tested in a
second with hand-written input, including the inputs a real extract rarely produces.
"""

from pathlib import Path

import pytest
from pytest_xcom import Given

ETL = Path(__file__).parent.parent / "etl_orders.py"
FAN = Path(__file__).parent.parent / "fan_out_fan_in.py"

ORDERS = [
    {"order_id": "20260101-0001", "customer_id": "C001", "amount_cents": 1_000, "status": "paid"},
    {"order_id": "20260101-0002", "customer_id": "C002", "amount_cents": 2_500, "status": "paid"},
    {"order_id": "20260101-0003", "customer_id": "C001", "amount_cents": 700, "status": "paid"},
    {"order_id": "20260101-0004", "customer_id": "C002", "amount_cents": 9_999, "status": "refunded"},
]


def test_transform_alone_on_hand_written_orders(xcom):
    # extract has multiple_outputs=True: its given dict is unrolled into one XCom per key, as Airflow does
    extracted = {"orders": ORDERS, "row_count": 4, "extracted_at": "2026-01-01T00:00:00+00:00"}
    run = xcom.run(xcom.load_dag(ETL), tasks=["transform"], upstream={"extract": extracted})
    run.assert_succeeded()

    assert run.value("transform") == {"C001": 1_700, "C002": 2_500}   # the refund is left out
    assert run.marked_success == ("extract", "load")                    # marked success, never ran
    run.assert_not_pushed("load")
    assert run.pushed_by("extract").get("orders").given                 # given, not pushed by a task
    run.assert_exclusive("extract", "orders", consumers={"transform"})
    print(run.report())


def test_load_refuses_an_empty_extract(xcom):
    # A day without orders is hard to get from the real extract: give it.
    run = xcom.run(
        xcom.load_dag(ETL),
        tasks=["load"],
        upstream=[
            Given("transform", {}),
            Given("extract", 0, key="row_count"),
            Given("extract", "2026-01-01T00:00:00+00:00", key="extracted_at"),
        ],
    )
    assert not run.succeeded
    assert run.failures["load"].rstrip().endswith("ValueError: no orders extracted at 2026-01-01T00:00:00+00:00")
    assert run.consumers("extract", "row_count") == {"load"}


@pytest.mark.xcom_backend("s3", threshold=0)
def test_the_fan_out_over_given_partitions_on_s3(xcom, xcom_s3):
    partitions = [f"orders/dt=2026-01-01/part-{n:03d}" for n in range(6)]
    run = xcom.run(xcom.load_dag(FAN), tasks=["count_rows", "total"], upstream={"list_partitions": partitions})
    run.assert_succeeded()

    run.assert_expanded("count_rows", 6)                 # one instance per given partition
    assert run.value("total")["partitions"] == 6
    run.assert_offloaded("list_partitions")             # the given list went through the backend
    assert any("/list_partitions/" in key for key in xcom_s3.keys())
    # the late-partition branch did not run: its mapped task is marked success, unexpanded
    assert {"late_partitions", "reprocess_late", "report_late"} <= set(run.marked_success)
    assert run.task_states["reprocess_late"] == []
