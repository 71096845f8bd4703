"""(j) A non-ASCII XCom key and value. On Airflow 3 the key travels in the execution API's URL path.

Airflow 3.3.2's own in-process transport fails the push of such a key (the path is decoded as
latin-1 on one side and UTF-8 on the other), while the harness's opt-in ASGI bridge let it succeed:
this case keeps any transport change honest. Whatever plain ``dag.test()`` does with it on the
Airflow release at hand (fail the task, or store the row), the harness must do the same.
"""

from fidelity_common import received

from airflow_compat import dag, task

KEY = "größe_данные"


@dag(dag_id="fidelity_unicode", schedule=None)
def fidelity_unicode():
    @task
    def label(ti=None):
        ti.xcom_push(key=KEY, value="naïve café ☕")
        return "labelled"

    @task
    def read(_, ti=None):
        return received(ti.xcom_pull(task_ids="label", key=KEY), task_id="label", key=KEY)

    read(label())


fidelity_unicode_dag = fidelity_unicode()
