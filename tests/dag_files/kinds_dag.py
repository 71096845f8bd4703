"""Every way a task can push or read an XCom, in one DAG."""

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator

from airflow_compat import dag, task


def push_path(ti):
    ti.xcom_push(key="path", value="s3://bucket/orders.csv")


def read_path(ti):
    own = ti.xcom_pull(key="path")  # no task_ids: Airflow reads this task's own XCom
    return {"path": ti.xcom_pull(task_ids="push", key="path"), "own": own}


@dag(schedule=None)
def kinds():
    @task(multiple_outputs=True)
    def stats():
        return {"rows": 3, "bytes": 120}

    @task
    def use_rows(rows):
        return rows * 2

    @task
    def make_cmd():
        return "echo from-xcomarg"

    push = PythonOperator(task_id="push", python_callable=push_path)
    read = PythonOperator(task_id="read", python_callable=read_path)
    bash = BashOperator(task_id="bash", bash_command="echo first; echo last-line")
    jinja = BashOperator(task_id="jinja", bash_command="echo {{ ti.xcom_pull(task_ids='bash') }}")
    templ = BashOperator(task_id="templ", bash_command=make_cmd())

    use_rows(stats()["rows"])
    push >> read
    bash >> jinja >> templ


kinds_dag = kinds()
