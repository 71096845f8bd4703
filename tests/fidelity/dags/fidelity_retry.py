"""(f) A task that pushes "staged", fails on try 1, pushes again and succeeds on try 2."""

from datetime import timedelta

from fidelity_common import received

from airflow_compat import dag, task


@dag(dag_id="fidelity_retry", schedule=None)
def fidelity_retry():
    @task(retries=1, retry_delay=timedelta(0))
    def stage(ti=None):
        ti.xcom_push(key="staged", value=f"staged-by-try-{ti.try_number}")
        if ti.try_number == 1:
            raise RuntimeError("transient failure on the first try")
        return {"try": ti.try_number}

    @task
    def read(result, ti=None):
        return {
            "staged": received(ti.xcom_pull(task_ids="stage", key="staged"), task_id="stage", key="staged"),
            "argument": received(result, task_id="stage"),
        }

    read(stage())


fidelity_retry_dag = fidelity_retry()
