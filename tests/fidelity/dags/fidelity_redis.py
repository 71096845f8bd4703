"""(d) A Redis backend that hands readers ``str(value)``: consumers get "2" when 2 was pushed."""

from fidelity_common import received

from airflow_compat import dag, task


@dag(dag_id="fidelity_redis", schedule=None)
def fidelity_redis():
    @task
    def count(ti=None):
        ti.xcom_push(key="config", value={"mode": "full", "limit": 10})
        return 2

    @task
    def read(n, ti=None):
        return {
            "argument": received(n, task_id="count"),
            "config": received(ti.xcom_pull(task_ids="count", key="config"), task_id="count", key="config"),
        }

    read(count())


fidelity_redis_dag = fidelity_redis()
