"""bench_prices through pytest-airflow-in-a-box (the pytest-xcom twin is ../xcom/test_prices.py)."""


def test_prices_are_pushed(dag_bag, run_dag):
    result = run_dag(dag_bag.dags["bench_prices"])
    assert result.success
    pushed = result["fetch_prices"].ti.xcom_pull(task_ids="fetch_prices", key="prices")
    assert pushed == {"SKU-1": 1299, "SKU-2": 2499, "SKU-3": 899}


def test_cheapest_reads_the_prices(dag_bag, run_dag):
    result = run_dag(dag_bag.dags["bench_prices"])
    assert result.success
    assert result.xcoms["cheapest"] == "SKU-3"
