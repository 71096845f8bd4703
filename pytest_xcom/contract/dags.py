"""The DAGs the backend contract runs. Each checking task compares what it received itself.

A check that happens inside the task sees exactly what the backend handed it, so the verdict
does not depend on how the harness reads values back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.contract import probes
from pytest_xcom.contract.probes import describe as describe

# Every JSON type, nesting, unicode, empty values and None.
JSON_CASES: dict[str, Any] = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "negative_int": -17,
    "big_int": 2**53,
    "float": 3.25,
    "empty_string": "",
    "string": "orders.csv",
    "unicode": 'ünïcödé ✓ 日本語 🚀 "quoted" \\ back\nslash',
    "empty_list": [],
    "empty_dict": {},
    "list": [1, "two", None, 3.5, False],
    "nested": {"rows": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}], "meta": {"ok": True, "n": None}},
}

MAPPED_ITEMS = [{"id": 1, "value": 10}, {"id": 2, "value": 20}, {"id": 3, "value": 30}]
MAPPED_EXPECTED = [{"id": i["id"], "double": i["value"] * 2} for i in MAPPED_ITEMS]
STATS = {"count": 3, "rows": [{"id": 1}, {"id": 2}, {"id": 3}], "label": "région ✓"}

# Characters in the value the retry, rerun and missing-object DAGs push: at least this many, and at
# least the backend's threshold when it declares one, so that the value is offloaded.
RETRY_BLOB = 2000
RERUN_BLOB = 2000
MISSING_OBJECT_BLOB = 5000


def _differs(got: Any, expected: Any) -> bool:
    return bool(got != expected or type(got) is not type(expected))


def push_and_check_dag(dag_id: str, values: dict[str, Any]) -> Any:
    """One task pushes every value under its own key; the next reads each and reports mismatches."""
    dag, task = _airflow.authoring()

    @dag(dag_id=dag_id, schedule=None)
    def push_and_check() -> None:
        @task
        def push(ti: Any = None) -> None:
            for key, value in values.items():
                ti.xcom_push(key=key, value=value)

        @task
        def check(ti: Any = None):
            received = {key: ti.xcom_pull(task_ids="push", key=key) for key in values}
            return {k: describe(v) for k, v in received.items() if _differs(v, values[k])}

        push() >> check()

    return push_and_check()


def round_trip_cases() -> dict[str, Any]:
    """The JSON cases this Airflow can push: a bare None cannot be pushed on Airflow 3.0 whatever the
    backend (nested ones still are)."""
    return JSON_CASES if _airflow.pushes_none() else {k: v for k, v in JSON_CASES.items() if v is not None}


def round_trip_dag() -> Any:
    return push_and_check_dag("xcom_contract_round_trip", round_trip_cases())


def sized_values(sizes: dict[str, int]) -> dict[str, str]:
    """Strings whose JSON form is exactly the given number of bytes."""
    return {name: "x" * max(size - 2, 0) for name, size in sizes.items()}


def sizes_dag(sizes: dict[str, int]) -> Any:
    return push_and_check_dag("xcom_contract_sizes", sized_values(sizes))


def multiple_outputs_dag() -> Any:
    dag, task = _airflow.authoring()

    @dag(dag_id="xcom_contract_multiple_outputs", schedule=None)
    def multiple_outputs() -> None:
        @task(multiple_outputs=True)
        def stats():
            return dict(STATS)

        @task
        def check(count: Any, rows: Any, label: Any):
            received = {"count": count, "rows": rows, "label": label}
            return {k: describe(v) for k, v in received.items() if _differs(v, STATS[k])}

        s = stats()
        check(s["count"], s["rows"], s["label"])  # multiple_outputs

    return multiple_outputs()


def mapped_dag() -> Any:
    dag, task = _airflow.authoring()

    @dag(dag_id="xcom_contract_mapped", schedule=None)
    def mapped() -> None:
        @task
        def items():
            return list(MAPPED_ITEMS)

        @task
        def transform(item: dict[str, int]):
            return {"id": item["id"], "double": item["value"] * 2}

        @task
        def whole(results: Any):
            got = list(results)
            return {} if not _differs(got, MAPPED_EXPECTED) else {"whole": describe(got)}

        @task
        def by_index(ti: Any = None):
            bad = {}
            for index, expected in enumerate(MAPPED_EXPECTED):
                got = ti.xcom_pull(task_ids="transform", map_indexes=index)
                if _differs(got, expected):
                    bad[str(index)] = describe(got)
            return bad

        transformed = transform.expand(item=items())
        whole(transformed)
        transformed >> by_index()

    return mapped()


def single_expansion_dag() -> Any:
    dag, task = _airflow.authoring()

    @dag(dag_id="xcom_contract_single_expansion", schedule=None)
    def single_expansion() -> None:
        @task
        def one():
            return [{"only": 1}]

        @task
        def transform(item: dict[str, int]):
            return {"seen": item}

        @task
        def check(results: Any):
            got = list(results)
            return {} if got == [{"seen": {"only": 1}}] else {"results": describe(got)}

        check(transform.expand(item=one()))

    return single_expansion()


def later_read_dag() -> Any:
    dag, task = _airflow.authoring()

    @dag(dag_id="xcom_contract_later_read", schedule=None)
    def later_read() -> None:
        @task
        def produce():
            return dict(STATS)

        @task
        def step() -> int:
            return 1

        @task
        def much_later(ti: Any = None):
            got = ti.xcom_pull(task_ids="produce")
            return {} if not _differs(got, STATS) else {"produce": describe(got)}

        produce() >> step() >> step.override(task_id="step_2")() >> much_later()

    return later_read()


def retry_dag(blob: int = RETRY_BLOB) -> Any:
    dag, task = _airflow.authoring()

    @dag(dag_id="xcom_contract_retry", schedule=None)
    def retry() -> None:
        @task(retries=1, retry_delay=timedelta(0))
        def flaky(ti: Any = None):
            ti.xcom_push(key="staged", value={"attempt": ti.try_number, "blob": "x" * blob})
            if ti.try_number == 1:
                raise RuntimeError("the first attempt fails on purpose (contract: retry)")
            return {"attempt": ti.try_number}

        @task
        def check(result: Any, ti: Any = None):
            staged = ti.xcom_pull(task_ids="flaky", key="staged")
            bad = {}
            if not isinstance(staged, dict) or staged.get("attempt") != 2:
                bad["staged"] = describe(staged)
            if result != {"attempt": 2}:
                bad["return_value"] = describe(result)
            return bad

        check(flaky())

    return retry()


def rerun_dag(blob: int = RERUN_BLOB) -> Any:
    """Cleared and run again: the second try must delete and purge the first try's XCom."""
    dag, task = _airflow.authoring()

    @dag(dag_id="xcom_contract_rerun", schedule=None)
    def rerun() -> None:
        @task
        def stage():
            return {"blob": "y" * blob}

        @task
        def use(staged: Any) -> int:
            return len(staged["blob"])

        use(stage())

    return rerun()


def probe_dag() -> Any:
    """Ask the backend, inside a task, to read the reference given in the run conf."""
    dag, task = _airflow.authoring()

    @dag(dag_id="xcom_contract_probe", schedule=None)
    def probe() -> None:
        @task
        def read_reference(dag_run: Any = None):
            return probes.read_stored_reference(dag_run.conf["reference"])

        read_reference()

    return probe()


def missing_object_dag(blob: int = MISSING_OBJECT_BLOB) -> Any:
    """Push, let the backend purge what it stored, then read it again."""
    dag, task = _airflow.authoring()

    @dag(dag_id="xcom_contract_missing_object", schedule=None)
    def missing_object() -> None:
        @task
        def push():
            return {"blob": "z" * blob}

        @task
        def purge_then_read(ti: Any = None):
            return probes.purge_then_read(ti, task_id="push", key="return_value")

        push() >> purge_then_read()

    return missing_object()
