"""Testing an ETL built on ``@task(multiple_outputs=True)``."""

from pathlib import Path

import pytest

DAG_FILE = Path(__file__).parent.parent / "etl_orders.py"


def test_extract_unrolls_one_xcom_per_key(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    # multiple_outputs pushes each key of the dict AND the whole dict as return_value
    assert run.pushed_by("extract").keys == {"return_value", "orders", "row_count", "extracted_at"}
    assert run.value("extract", "row_count") == 40
    assert run.value("extract", "extracted_at") == "2026-01-01T00:00:00+00:00"
    assert len(run.value("extract", "orders")) == 40


def test_each_downstream_task_reads_only_the_keys_it_needs(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    assert run.consumers("extract", "orders") == {"transform"}
    assert run.consumers("extract", "row_count") == {"load"}
    assert run.consumers("extract", "extracted_at") == {"load"}
    run.assert_pulled("load", "transform")
    # the orders themselves never reach load: only the per-customer aggregate does
    run.assert_exclusive("extract", "orders", consumers={"transform"})

    load = run.value("load")
    assert load["revenue_cents"] == sum(run.value("transform").values())
    assert load["customers"] == len(run.value("transform"))


def test_the_whole_dict_is_a_second_unread_copy_of_the_orders(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    print(run.report())

    # The "return_value" copy is larger than the "orders" key it contains, and nobody reads it.
    assert run.size("extract") > run.size("extract", "orders")
    assert run.consumers("extract") == set()
    with pytest.raises(AssertionError, match=r"extract key 'return_value'"):
        run.assert_no_unused(ignore=("load",))
    # "load" is the last task, so its result is expected to go unread.
    # ignore= takes task ids or keys, so the unrolled dict can only be excused with its task:
    run.assert_no_unused(ignore=("load", "extract"))


def test_xcoms_fit_the_budget_and_are_plain_json(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_json_serializable()
    run.assert_max_size("48KB")
    run.assert_max_size("airflow", task_id="transform")


def test_a_busy_day_breaks_the_48kb_budget(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"n_orders": 600})
    run.assert_succeeded()
    assert run.value("extract", "row_count") == 600

    # The per-customer aggregate stays small; the raw orders (twice) do not.
    run.assert_max_size("48KB", task_id="transform")
    with pytest.raises(AssertionError) as excinfo:
        run.assert_max_size("48KB")
    message = str(excinfo.value)
    assert "2 XCom(s) of DAG 'etl_orders' exceed" in message
    assert "extract key 'return_value'" in message and "extract key 'orders'" in message
