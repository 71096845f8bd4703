"""The DAGs the in-process measurements run, built from a spec string such as ``chain:50``.

Import this module only after ``pytest_xcom.isolation.env.isolate()``: it imports Airflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator

try:
    from airflow.sdk import DAG, dag, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task
    from airflow.models import DAG


def chain(n: int) -> DAG:
    """``n`` TaskFlow tasks in a line, each reading its predecessor's return value."""

    @dag(dag_id=f"bench_chain_{n}", schedule=None, catchup=False)
    def bench_chain() -> None:
        @task
        def step(value: Any) -> int:
            return int(value) + 1

        previous = step.override(task_id="step_0")(0)
        for index in range(1, n):
            previous = step.override(task_id=f"step_{index}")(previous)

    return bench_chain()


def mapped(n: int) -> DAG:
    """A producer of ``n`` elements, ``work`` mapped over them, and a fan-in reading all of them."""

    @dag(dag_id=f"bench_mapped_{n}", schedule=None, catchup=False)
    def bench_mapped() -> None:
        @task
        def produce() -> list[int]:
            return list(range(n))

        @task
        def work(element: int) -> int:
            return element * 2

        @task
        def total(values: Any) -> int:
            return sum(values)

        total(work.expand(element=produce()))

    return bench_mapped()


def _push_summary(ti: Any) -> None:
    ti.xcom_push(key="summary", value={"rows": ti.xcom_pull(task_ids="extract", key="count")})


def _audit(ti: Any) -> Any:
    return ti.xcom_pull(task_ids="publish", key="summary")


def mixed() -> DAG:
    """A realistic 11-instance DAG: multiple_outputs, a mapped fan-out of 4, explicit push/pull."""

    @dag(dag_id="bench_mixed", schedule=None, catchup=False)
    def bench_mixed() -> None:
        @task(multiple_outputs=True)
        def extract() -> dict[str, Any]:
            rows = [{"id": i, "amount_cents": 500 + 37 * i} for i in range(40)]
            return {"rows": rows, "count": len(rows)}

        @task
        def transform(rows: Any) -> int:
            return sum(row["amount_cents"] for row in rows)

        @task
        def partitions() -> list[int]:
            return [0, 1, 2, 3]

        @task
        def count(partition: int) -> int:
            return 1_000 + partition

        @task
        def total(counts: Any) -> int:
            return sum(counts)

        @task
        def combine(revenue: Any, rows: Any) -> dict[str, int]:
            return {"revenue_cents": revenue, "rows": rows}

        extracted: Any = extract()  # multiple_outputs: indexable by key
        combined = combine(transform(extracted["rows"]), total(count.expand(partition=partitions())))
        publish = PythonOperator(task_id="publish", python_callable=_push_summary)
        combined >> publish >> PythonOperator(task_id="audit", python_callable=_audit)

    return bench_mixed()


_FACTORIES: dict[str, Callable[[int], DAG]] = {"chain": chain, "mapped": mapped}


def build(spec: str) -> DAG:
    """``mixed``, ``chain:N`` or ``mapped:N``."""
    if spec == "mixed":
        return mixed()
    kind, _, size = spec.partition(":")
    if kind not in _FACTORIES or not size.isdigit():
        raise ValueError(f"unknown DAG spec {spec!r}: use mixed, chain:N or mapped:N")
    return _FACTORIES[kind](int(size))


def task_instances(spec: str) -> int:
    """How many task instances a run of ``spec`` has."""
    if spec == "mixed":
        return 11
    kind, _, size = spec.partition(":")
    return int(size) + 2 if kind == "mapped" else int(size)


def elements(spec: str) -> int:
    """The size the spec scales with: chain length or number of mapped expansions."""
    return 11 if spec == "mixed" else int(spec.partition(":")[2])
