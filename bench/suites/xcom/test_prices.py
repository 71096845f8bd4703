"""bench_prices through pytest-xcom (the in-a-box twin is ../inabox/test_prices.py)."""

from pathlib import Path

DAG_FILE = Path(__file__).parents[1] / "dags" / "prices.py"


def test_prices_are_pushed(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()
    assert run.value("fetch_prices", "prices") == {"SKU-1": 1299, "SKU-2": 2499, "SKU-3": 899}


def test_cheapest_reads_the_prices(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()
    assert run.value("cheapest") == "SKU-3"
