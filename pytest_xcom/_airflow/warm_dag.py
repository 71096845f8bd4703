"""The DAG watch mode's warm-up runs in a throwaway fork (see pytest_xcom/watch/learn.py).

What most tested DAGs use: TaskFlow tasks passing values, a mapped task, a pull of its results.
Its tasks stay unannotated, as the contract's DAGs (Airflow's decorators are untyped).
"""

from __future__ import annotations

from typing import Any


def example_dag() -> Any:
    """A DAG of what most tested DAGs use: TaskFlow tasks passing values, a mapped task, a pull."""
    from datetime import datetime

    from pytest_xcom._airflow.versions import is_airflow2

    if is_airflow2():
        from airflow.decorators import dag, task  # type: ignore[attr-defined]
    else:
        from airflow.sdk import dag, task

    @dag(dag_id="pytest_xcom_watch_warm_up", start_date=datetime(2026, 1, 1), schedule=None, catchup=False)
    def warm_up_dag() -> None:
        @task
        def numbers() -> list[int]:
            return [1, 2]

        @task
        def double(value: int) -> int:
            return value * 2

        @task
        def total(values: Any) -> int:
            return sum(values)

        total(double.expand(value=numbers()))

    return warm_up_dag()
