"""(c) A dataclass NOT in ``[core] allowed_deserialization_classes``, with the default backend.

serde serializes any dataclass on the way in; on the way out it refuses classes outside
``allowed_deserialization_classes`` (default ``airflow.*``). ``read`` takes it as an argument;
``read_guarded`` (trigger rule all_done) pulls it explicitly and returns the error it got.
"""

from dataclasses import dataclass

from fidelity_common import received

from airflow_compat import dag, task


@dataclass
class Reading:
    sensor: str
    celsius: float


@dag(dag_id="fidelity_dataclass", schedule=None)
def fidelity_dataclass():
    @task
    def measure():
        return Reading("t1", 21.5)

    @task
    def read(reading):
        return received(reading, task_id="measure")

    @task(trigger_rule="all_done")
    def read_guarded(ti=None):
        try:
            value = ti.xcom_pull(task_ids="measure")
        except Exception as exc:  # what a reader meets: the error, as the reader sees it
            return {"error": type(exc).__name__, "message": str(exc)}
        return received(value, task_id="measure")

    reading = measure()
    read(reading)
    reading >> read_guarded()


fidelity_dataclass_dag = fidelity_dataclass()
