"""Benchmark DAG: an ETL whose extract step unrolls a dict into one XCom per key."""

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task


@dag(dag_id="bench_orders", schedule=None, catchup=False, params={"n_orders": 40})
def bench_orders():
    @task(multiple_outputs=True)
    def extract(params=None):
        orders = [{"order_id": i, "amount_cents": 500 + 37 * i} for i in range(params["n_orders"])]
        return {"orders": orders, "row_count": len(orders)}

    @task
    def transform(orders):
        return sum(order["amount_cents"] for order in orders)

    @task
    def load(revenue_cents, row_count):
        return {"revenue_cents": revenue_cents, "rows": row_count}

    extracted = extract()
    load(transform(extracted["orders"]), extracted["row_count"])


bench_orders()
