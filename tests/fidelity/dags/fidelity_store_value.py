"""(q) A ``store_value`` backend of our own (Airflow 3.4) on a loop DAG with a mapped task and a
retry: the object paths carry each task instance's id, so every iteration and attempt keeps its own."""

from datetime import timedelta

from airflow.sdk import dag, task, task_group
from fidelity_common import received


@dag(dag_id="fidelity_store_value", schedule=None)
def fidelity_store_value():
    @task(retries=1, retry_delay=timedelta(0))
    def produce(ti=None):
        ti.xcom_push(key="attempt", value=ti.try_number)
        if ti.try_number == 1:
            raise RuntimeError("first attempt fails")
        return [3, 4]

    @task
    def scale(x):
        return x * 10

    @task_group
    def rounds():
        @task
        def tick(*, loop):
            return {"round": loop.index, "previous": loop.previous}

        tick()

    @task
    def read(values):
        return received(values, task_id="scale", mapped=True)

    read(scale.expand(x=produce())) >> rounds.loop(max_iterations=2)


fidelity_store_value_dag = fidelity_store_value()
