"""ETL of one day of orders, with ``@task(multiple_outputs=True)``.

Pattern: ``extract`` returns a dict and, because of ``multiple_outputs=True``, Airflow pushes
one XCom per key ("orders", "row_count", "extracted_at") that downstream tasks read one by one
(``extract()["orders"]``).

What can go wrong with XCom here:
- ``multiple_outputs`` ALSO pushes the whole dict as "return_value", so the orders are stored
  twice in the metadata DB; nobody reads that copy unless a task takes ``extract()`` whole.
- The order list grows with the business: one busy day and the "orders" XCom passes the 48KB
  budget (Airflow's historic MAX_XCOM_SIZE) or the DB column limit.
- A datetime or Decimal in the dict is not plain JSON; return ISO strings and integer cents.
"""

import random
from datetime import datetime, timezone

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task

STATUSES = ["paid", "paid", "paid", "refunded", "cancelled"]


@dag(
    dag_id="etl_orders",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"n_orders": 40},  # trigger with {"n_orders": 600} to simulate a busy day
    tags=["example", "xcom"],
)
def etl_orders():
    @task(multiple_outputs=True)
    def extract(params=None, logical_date=None):
        rng = random.Random(logical_date.toordinal())  # same day, same fake orders
        orders = [
            {
                "order_id": f"{logical_date:%Y%m%d}-{i:04d}",
                "customer_id": f"C{rng.randint(1, 12):03d}",
                "amount_cents": rng.randint(500, 25_000),
                "status": rng.choice(STATUSES),
            }
            for i in range(1, params["n_orders"] + 1)
        ]
        return {"orders": orders, "row_count": len(orders), "extracted_at": logical_date.isoformat()}

    @task
    def transform(orders):
        revenue = {}
        for order in orders:
            if order["status"] == "paid":
                revenue[order["customer_id"]] = revenue.get(order["customer_id"], 0) + order["amount_cents"]
        return dict(sorted(revenue.items()))

    @task
    def load(revenue_by_customer, row_count, extracted_at):
        if row_count == 0:
            raise ValueError(f"no orders extracted at {extracted_at}")
        # A real DAG would upsert into the warehouse here; we return what would be written.
        return {"customers": len(revenue_by_customer), "revenue_cents": sum(revenue_by_customer.values())}

    extracted = extract()
    load(transform(extracted["orders"]), extracted["row_count"], extracted["extracted_at"])


etl_orders()
