"""Testing explicit ``ti.xcom_push`` / ``ti.xcom_pull`` between PythonOperators."""

from pathlib import Path

DAG_FILE = Path(__file__).parent.parent / "classic_push_pull.py"


def test_each_task_pushes_its_named_keys_and_no_return_value(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    assert run.pushed_by("fetch_prices").keys == {"prices", "source"}
    assert run.pushed_by("fetch_costs").keys == {"costs", "source"}
    assert run.pushed_by("compute_margins").keys == {"margins"}
    # the callables return None, so Airflow pushes no return_value for them
    run.assert_not_pushed("fetch_prices", "return_value")
    run.assert_not_pushed("compute_margins", "return_value")


def test_every_key_reaches_the_task_meant_to_read_it(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    run.assert_pulled("compute_margins", "fetch_prices", key="prices")
    run.assert_pulled("compute_margins", "fetch_costs", key="costs")
    run.assert_exclusive("compute_margins", "margins", consumers={"publish"})
    # one xcom_pull(task_ids=[...]) reads the "source" key of both fetch tasks
    assert run.consumers("fetch_prices", "source") == {"publish"}
    assert run.consumers("fetch_costs", "source") == {"publish"}
    assert run.value("publish")["sources"] == ["pricing-service", "erp"]
    # classic pulls are explicit, and every one of them names its task_ids
    assert {p.kind for p in run.pulls} == {"explicit"}
    assert all(p.task_ids_explicit for p in run.pulls)
    run.assert_no_unused(ignore=("publish",))


def test_margins_are_computed_from_the_pulled_prices_and_costs(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    prices = run.value("fetch_prices", "prices")
    costs = run.value("fetch_costs", "costs")
    margins = run.value("compute_margins", "margins")
    assert margins.keys() == prices.keys() == costs.keys()
    assert margins["SKU-002"] == round((2499 - 2310) / 2499, 3)
    assert run.value("publish")["low_margin_skus"] == ["SKU-002", "SKU-004"]


def test_an_absent_optional_key_is_a_recorded_miss_not_an_error(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    # the pull of "price_overrides" returned None: the harness records it as not found
    misses = [(p.task_id, p.source_task_id, p.key) for p in run.pulls if not p.found]
    assert misses == [("compute_margins", "fetch_prices", "price_overrides")]
    run.assert_not_pushed("fetch_prices", "price_overrides")


def test_price_overrides_from_the_run_conf_are_pushed_and_read(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"price_overrides": {"SKU-002": 2999}})
    run.assert_succeeded()
    print(run.report())

    run.assert_pushed("fetch_prices", "price_overrides", {"SKU-002": 2999})
    run.assert_exclusive("fetch_prices", "price_overrides", consumers={"compute_margins"})
    assert all(p.found for p in run.pulls)
    assert run.value("compute_margins", "margins")["SKU-002"] == round((2999 - 2310) / 2999, 3)
    assert run.value("publish")["low_margin_skus"] == ["SKU-004"]
