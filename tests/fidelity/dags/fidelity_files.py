"""(e) A backend that writes each value to a local file and hands readers the file PATH."""

from fidelity_common import received

from airflow_compat import dag, task


@dag(dag_id="fidelity_files", schedule=None)
def fidelity_files():
    @task
    def export():
        return {"rows": 3, "columns": ["sku", "qty"]}

    @task
    def read(exported):
        return received(exported, task_id="export")

    read(export())


fidelity_files_dag = fidelity_files()
