"""A generated DAG repository for the ``dags`` section: small DAG files of the example kinds.

``write(folder, count)`` writes ``count`` files, cycling through five kinds (a TaskFlow ETL with
``multiple_outputs``, classic ``PythonOperator`` push/pull, a mapped fan-out and fan-in, a mapped
task group, a ``BashOperator`` whose last line is read), each with its own dag_id, bound to the
module-level name ``the_dag`` (a plain script finds it there). Imports work on
Airflow 2 and 3. Importing this module imports no Airflow.
"""

from __future__ import annotations

from pathlib import Path

HEADER = """\
try:
    from airflow.sdk import DAG, dag, task, task_group
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task, task_group
    from airflow.models import DAG
"""

KINDS = {
    "etl": """
@dag(dag_id="{dag_id}", schedule=None, catchup=False)
def etl():
    @task(multiple_outputs=True)
    def extract():
        orders = [{{"id": i, "cents": 100 * i}} for i in range({n})]
        return {{"orders": orders, "row_count": len(orders)}}

    @task
    def transform(orders):
        return sum(order["cents"] for order in orders)

    @task
    def load(total, row_count):
        return {{"total": total, "rows": row_count}}

    extracted = extract()
    load(transform(extracted["orders"]), extracted["row_count"])


the_dag = etl()
""",
    "classic": """
from airflow.providers.standard.operators.python import PythonOperator


def fetch(ti):
    ti.xcom_push(key="prices", value={{"sku-{n}": {n} * 10}})


def margins(ti):
    prices = ti.xcom_pull(task_ids="fetch", key="prices")
    ti.xcom_push(key="margins", value={{sku: price / 2 for sku, price in prices.items()}})


def publish(ti):
    return sorted(ti.xcom_pull(task_ids="margins", key="margins"))


with DAG("{dag_id}", schedule=None, catchup=False) as the_dag:
    (
        PythonOperator(task_id="fetch", python_callable=fetch)
        >> PythonOperator(task_id="margins", python_callable=margins)
        >> PythonOperator(task_id="publish", python_callable=publish)
    )
""",
    "fan": """
@dag(dag_id="{dag_id}", schedule=None, catchup=False)
def fan():
    @task
    def partitions():
        return [f"part-{{i}}" for i in range({n} % 4 + 2)]

    @task
    def count(partition):
        return len(partition) * 100

    @task
    def total(counts):
        return sum(counts)

    total(count.expand(partition=partitions()))


the_dag = fan()
""",
    "group": """
@dag(dag_id="{dag_id}", schedule=None, catchup=False)
def grouped():
    @task
    def regions():
        return ["eu", "us"]

    @task_group
    def per_region(region):
        @task
        def sales(region):
            return {{"region": region, "cents": {n} * 1000}}

        @task
        def convert(row):
            return {{**row, "eur": row["cents"] / 100}}

        return convert(sales(region))

    @task
    def summarize(rows):
        return sorted(row["region"] for row in rows)

    summarize(per_region.expand(region=regions()))


the_dag = grouped()
""",
    "bash": """
from airflow.providers.standard.operators.bash import BashOperator


@dag(dag_id="{dag_id}", schedule=None, catchup=False)
def bash_last_line():
    export = BashOperator(task_id="export", bash_command="echo exporting >&2; echo {n}")

    @task
    def validate(count):
        return int(count)

    validate(export.output)


the_dag = bash_last_line()
""",
}


def write(folder: Path, count: int = 50) -> list[str]:
    """Write ``count`` DAG files into ``folder``; return their dag_ids."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds = list(KINDS)
    dag_ids = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        dag_id = f"{kind}_{index:03d}"
        (folder / f"{dag_id}.py").write_text(HEADER + KINDS[kind].format(dag_id=dag_id, n=index + 1))
        dag_ids.append(dag_id)
    return dag_ids
