"""(s) A partial run: ``extract`` is marked success without running (``xcom.run(dag, tasks=[...])``
against plain ``dag.test(mark_success_pattern=...)``), so its XCom never exists: the reader's explicit
pull finds nothing on both sides, and the tasks that run push and read as usual."""

from fidelity_common import received

from airflow_compat import dag, task


@dag(dag_id="fidelity_partial", schedule=None)
def fidelity_partial():
    @task
    def extract():
        return {"rows": [1, 2, 3]}

    @task
    def transform(ti=None):
        upstream = ti.xcom_pull(task_ids="extract")
        return {"upstream": received(upstream, task_id="extract"), "rows": 0 if upstream is None else 3}

    @task
    def load(transformed):
        return received(transformed, task_id="transform")

    extract() >> load(transform())


fidelity_partial_dag = fidelity_partial()
