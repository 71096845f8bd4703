"""Explicit ``ti.xcom_push`` / ``ti.xcom_pull`` with custom keys between PythonOperators.

Pattern: the classic style. ``fetch_prices`` and ``fetch_costs`` push named keys and return
nothing; ``compute_margins`` pulls them by ``task_ids`` and ``key``; ``publish`` pulls the
margins and reads the "source" key of both fetch tasks in one ``xcom_pull(task_ids=[...])``.

What can go wrong with XCom here:
- Nothing ties a pull to a push: rename a key on one side and the pull returns ``None``
  silently (that is how the optional "price_overrides" key works here, on purpose).
- ``ti.xcom_pull(key=...)`` without ``task_ids`` reads the CALLING task's own XCom in Airflow 3;
  always name ``task_ids``.
- The dependency (``>>``) must be declared by hand: pulling from a task that has not run yet
  also returns ``None``.
"""

from datetime import datetime, timezone

from airflow.providers.standard.operators.python import PythonOperator

try:
    from airflow.sdk import dag
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag

CATALOGUE = {"SKU-001": (1299, 810), "SKU-002": (2499, 2310), "SKU-003": (899, 402), "SKU-004": (4999, 4150)}


def fetch_prices(ti, params):
    ti.xcom_push(key="prices", value={sku: price for sku, (price, _) in CATALOGUE.items()})
    ti.xcom_push(key="source", value="pricing-service")
    if params["price_overrides"]:
        ti.xcom_push(key="price_overrides", value=params["price_overrides"])


def fetch_costs(ti):
    ti.xcom_push(key="costs", value={sku: cost for sku, (_, cost) in CATALOGUE.items()})
    ti.xcom_push(key="source", value="erp")


def compute_margins(ti):
    prices = ti.xcom_pull(task_ids="fetch_prices", key="prices")
    prices.update(ti.xcom_pull(task_ids="fetch_prices", key="price_overrides") or {})
    costs = ti.xcom_pull(task_ids="fetch_costs", key="costs")
    margins = {sku: round((prices[sku] - costs[sku]) / prices[sku], 3) for sku in sorted(prices)}
    ti.xcom_push(key="margins", value=margins)


def publish(ti):
    margins = ti.xcom_pull(task_ids="compute_margins", key="margins")
    # a list on Airflow 3; on Airflow 2 a lazy sequence, which XCom cannot store as it is
    sources = list(ti.xcom_pull(task_ids=["fetch_prices", "fetch_costs"], key="source"))
    return {"low_margin_skus": [sku for sku, m in margins.items() if m < 0.2], "sources": sources}


@dag(dag_id="classic_push_pull", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), catchup=False,
     params={"price_overrides": {}}, tags=["example", "xcom"])
def classic_push_pull():
    prices = PythonOperator(task_id="fetch_prices", python_callable=fetch_prices)
    costs = PythonOperator(task_id="fetch_costs", python_callable=fetch_costs)
    margins = PythonOperator(task_id="compute_margins", python_callable=compute_margins)
    report = PythonOperator(task_id="publish", python_callable=publish)
    [prices, costs] >> margins >> report


classic_push_pull()
