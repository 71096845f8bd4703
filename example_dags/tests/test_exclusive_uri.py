"""Testing an "exclusive" XCom: a staged file's URI meant for exactly one consumer."""

from pathlib import Path

import pytest

try:
    from airflow.sdk import task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import task

DAG_FILE = Path(__file__).parent.parent / "exclusive_uri.py"
URI = "s3://lake/exports/2026-01-01/orders.parquet"


def test_the_uri_is_read_by_the_loader_and_nobody_else(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    run.assert_pushed("export_orders", "uri", URI)
    run.assert_exclusive("export_orders", "uri", consumers={"load_to_warehouse"})
    # the small summary, by contrast, is shared
    assert run.consumers("export_orders") == {"load_to_warehouse", "check_quality", "notify"}
    run.assert_pulled("notify", "load_to_warehouse")
    assert run.value("notify") == "500/500 orders loaded into analytics.orders"


def test_the_uri_follows_the_logical_date(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), logical_date="2026-03-15")
    run.assert_succeeded()
    run.assert_pushed("export_orders", "uri", "s3://lake/exports/2026-03-15/orders.parquet")


def test_only_references_and_summaries_travel_through_xcom(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    print(run.report())

    # 500 orders were exported, but the XComs carry a URI and a checksum, not the rows
    assert run.size("export_orders", "uri") == len(URI) + 2  # a JSON string: the URI and quotes
    run.assert_max_size(128)
    run.assert_max_size("48KB")
    run.assert_not_pushed("check_quality")  # a quality gate pushes nothing
    run.assert_json_serializable()
    run.assert_no_unused(ignore=("notify",))


def test_a_second_reader_of_the_uri_is_caught(xcom):
    dag = xcom.load_dag(DAG_FILE)

    # A teammate adds an audit task that peeks at the staged file's URI.
    @task(task_id="audit_export")
    def audit_export(ti=None):
        return {"audited": ti.xcom_pull(task_ids="export_orders", key="uri")}

    with dag:
        dag.get_task("export_orders") >> audit_export()

    run = xcom.run(dag)
    run.assert_succeeded()  # nothing fails today: the DAG still "works"...
    with pytest.raises(AssertionError) as excinfo:  # ...but the URI is no longer exclusive
        run.assert_exclusive("export_orders", "uri", consumers={"load_to_warehouse"})
    message = str(excinfo.value)
    assert "unexpected readers: {'audit_export'}" in message
    assert "'audit_export' read it as explicit" in message
