"""bench_partitions through pytest-xcom (the in-a-box twin is ../inabox/test_partitions.py)."""

from pathlib import Path

DAG_FILE = Path(__file__).parents[1] / "dags" / "partitions.py"


def test_one_instance_per_partition(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()
    run.assert_expanded("count_rows", 4)
    assert run.value("count_rows") == [1000, 1001, 1002, 1003]
    assert run.value("total") == 4006


def test_more_partitions(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"n_partitions": 8})
    run.assert_succeeded()
    run.assert_expanded("count_rows", 8)
    assert run.value("total") == sum(range(1000, 1008))
