"""Benchmark DAG: classic PythonOperators with explicit ti.xcom_push / ti.xcom_pull."""

from airflow.providers.standard.operators.python import PythonOperator

try:
    from airflow.sdk import dag
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag

PRICES = {"SKU-1": 1299, "SKU-2": 2499, "SKU-3": 899}


def fetch_prices(ti):
    ti.xcom_push(key="prices", value=PRICES)


def cheapest(ti):
    prices = ti.xcom_pull(task_ids="fetch_prices", key="prices")
    return min(prices, key=prices.get)


@dag(dag_id="bench_prices", schedule=None, catchup=False)
def bench_prices():
    PythonOperator(task_id="fetch_prices", python_callable=fetch_prices) >> PythonOperator(
        task_id="cheapest", python_callable=cheapest
    )


bench_prices()
