"""Benchmark DAG: a mapped fan-out over partitions and its fan-in."""

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task


@dag(dag_id="bench_partitions", schedule=None, catchup=False, params={"n_partitions": 4})
def bench_partitions():
    @task
    def list_partitions(params=None):
        return [f"part-{n:03d}" for n in range(params["n_partitions"])]

    @task
    def count_rows(partition):
        return 1_000 + int(partition.rsplit("-", 1)[1])

    @task
    def total(counts):
        return sum(counts)

    total(count_rows.expand(partition=list_partitions()))


bench_partitions()
