"""An orders pipeline with every XCom habit the assertions look for."""

import datetime

from airflow.providers.standard.operators.python import PythonOperator

from airflow_compat import dag, task


def export(ti):
    ti.xcom_push(key="uri", value="s3://lake/exports/orders.parquet")
    ti.xcom_push(key="debug", value={"rows_written": 3})     # nobody reads this one


def load(ti):
    return ti.xcom_pull(task_ids="export", key="uri")


def audit(ti):
    return ti.xcom_pull(task_ids="export", key="uri")       # breaks "exclusive to load"


@dag(schedule=None)
def orders():
    @task(multiple_outputs=True)
    def extract():
        orders = [{"id": i, "note": "x" * 2000} for i in range(30)]   # ~62 KB of JSON
        return {"orders": orders, "row_count": len(orders)}

    @task
    def regions():
        return ["eu", "us", "apac"]

    @task
    def per_region(region, orders):
        return {"region": region, "count": len(orders)}

    @task
    def stamp():
        return datetime.date(2026, 1, 1)                       # not plain JSON

    @task
    def summarize(results, day):
        return len(list(results))

    e = extract()
    summarize(per_region.partial(orders=e["orders"]).expand(region=regions()), stamp())
    PythonOperator(task_id="export", python_callable=export) >> [
        PythonOperator(task_id="load", python_callable=load),
        PythonOperator(task_id="audit", python_callable=audit),
    ]


orders_dag = orders()
