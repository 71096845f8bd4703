"""bench_partitions through pytest-airflow-in-a-box (the pytest-xcom twin is ../xcom/test_partitions.py)."""


def test_one_instance_per_partition(dag_bag, run_dag):
    result = run_dag(dag_bag.dags["bench_partitions"])
    assert result.success
    assert result.xcoms["count_rows"] == [1000, 1001, 1002, 1003]
    assert result.xcoms["total"] == 4006


def test_more_partitions(dag_bag, run_dag):
    result = run_dag(dag_bag.dags["bench_partitions"], dag_run_kwargs={"conf": {"n_partitions": 8}})
    assert result.success
    assert len(result.xcoms["count_rows"]) == 8
    assert result.xcoms["total"] == sum(range(1000, 1008))
