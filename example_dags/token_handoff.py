"""An API token handed over by ``ti.xcom_pull(key="token")`` WITHOUT ``task_ids``.

Pattern: the Airflow 2 style many DAGs still have. ``issue_token`` pushes a token under the key
"token"; ``call_api`` pulls it by key alone and builds the request headers from it.

What can go wrong with XCom here (the point of this example):
- On Airflow 2 ``xcom_pull(key=...)`` without ``task_ids`` searches every task of the DAG run and
  finds the token. On Airflow 3 it reads the CALLING task's own XComs (apache/airflow#46513):
  ``call_api`` pushed no "token", so it gets ``None``, builds headers without the token, and
  succeeds. Nothing fails; the request would go out unauthenticated.
- ``pytest-xcom diff`` of this DAG's snapshots from Airflow 2 and 3 shows exactly that: the
  read that found the token now finds nothing, and the value ``call_api`` returns changed.
  The fix is one argument: ``ti.xcom_pull(task_ids="issue_token", key="token")``.

Written with ``airflow.decorators`` imports, as on Airflow 2; Airflow 3 still accepts them (a
deprecated alias of ``airflow.sdk``), so the same file runs on both.
"""

from datetime import datetime

from airflow.decorators import dag, task


@dag(dag_id="token_handoff", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["example", "xcom"])
def token_handoff():
    @task
    def issue_token(ti=None):
        ti.xcom_push(key="token", value="tok-2026-demo")

    @task
    def call_api(ti=None):
        token = ti.xcom_pull(key="token")  # no task_ids: what it reads depends on the Airflow version
        return {"Authorization": f"Bearer {token}"} if token else {}

    issue_token() >> call_api()


token_handoff_dag = token_handoff()
