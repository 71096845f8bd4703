"""A DAG whose middle task raises: the run records the failure instead of raising."""

from airflow_compat import dag, task


def parse(raw):
    return int(raw["count"])


@dag(schedule=None)
def failing():
    @task
    def extract():
        return {"count": "not-a-number"}

    @task
    def transform(raw):
        return parse(raw)

    @task
    def load(value):
        return value

    load(transform(extract()))


failing_dag = failing()
