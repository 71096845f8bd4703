"""bench_orders through pytest-airflow-in-a-box (the pytest-xcom twin is ../xcom/test_orders.py)."""


def test_extract_unrolls_its_keys(dag_bag, run_dag):
    result = run_dag(dag_bag.dags["bench_orders"])
    assert result.success
    assert result["extract"].ti.xcom_pull(task_ids="extract", key="row_count") == 40
    assert result.xcoms["load"] == {"revenue_cents": sum(500 + 37 * i for i in range(40)), "rows": 40}


def test_a_busy_day(dag_bag, run_dag):
    result = run_dag(dag_bag.dags["bench_orders"], dag_run_kwargs={"conf": {"n_orders": 400}})
    assert result.success
    ti = result["extract"].ti
    assert ti.xcom_pull(task_ids="extract", key="row_count") == 400
    assert len(ti.xcom_pull(task_ids="extract", key="orders")) == 400
