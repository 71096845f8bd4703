"""bench_orders through pytest-xcom (the in-a-box twin is ../inabox/test_orders.py)."""

from pathlib import Path

DAG_FILE = Path(__file__).parents[1] / "dags" / "orders.py"


def test_extract_unrolls_its_keys(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()
    assert run.value("extract", "row_count") == 40
    assert run.value("load") == {"revenue_cents": sum(500 + 37 * i for i in range(40)), "rows": 40}


def test_a_busy_day(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"n_orders": 400})
    run.assert_succeeded()
    assert run.value("extract", "row_count") == 400
    assert len(run.value("extract", "orders")) == 400
