"""Every assertion: one test that makes it fail (checking the message) and one that passes."""

import pytest

from airflow_compat import AIRFLOW2

PASSING = """
from orders_dag import orders_dag

def test_passing(xcom):
    run = xcom.run(orders_dag)
    run.assert_succeeded()
    run.assert_pushed("extract", "row_count", 30)
    run.assert_pushed("extract", "orders")
    run.assert_pushed("per_region", value=[{"region": "eu", "count": 30},
                                           {"region": "us", "count": 30},
                                           {"region": "apac", "count": 30}])
    run.assert_pushed("per_region", map_index=2, value={"region": "apac", "count": 30})
    run.assert_not_pushed("summarize", "debug")
    run.assert_not_pushed("nothing_here") if False else None
    run.assert_pulled("load", "export", "uri")
    run.assert_pulled("per_region", "extract", "orders")
    run.assert_exclusive("export", "uri", consumers={"load", "audit"})
    run.assert_exclusive("regions", consumers="per_region")
    run.assert_max_size("mysql")
    run.assert_max_size("48KB", task_id="per_region")
    run.assert_max_size(100, task_id="export", stored=True)
    run.assert_expanded("per_region", 3)
    run.assert_no_unused(ignore=("return_value", "debug", "row_count"))
    run.assert_no_unused(ignore=["return_value", ("export", "debug"), ("extract", "row_count")])
    run.assert_no_implicit_pulls()
    xcom.assert_expanded("per_region", 3)          # the same checks on the fixture (last run)
"""


def test_every_assertion_passes_on_a_compliant_run(user_tests):
    result = user_tests(PASSING, dag_files=("orders_dag.py",))
    result.assert_outcomes(passed=1)


FAILING = {
    "pushed_missing_key": (
        'run.assert_pushed("extract", "rows")',
        [
            "E*AssertionError: expected task 'extract' to push XCom key 'rows', but it did not.",
            "E*It pushed: {'orders', 'return_value', 'row_count'}.",
        ],
    ),
    "pushed_wrong_value": (
        'run.assert_pushed("extract", "row_count", 31)',
        [
            "E*AssertionError: task 'extract' pushed XCom key 'row_count' with a different value.",
            "E*expected: 31",
            "E*actual:   30",
        ],
    ),
    "not_pushed": (
        'run.assert_not_pushed("export")',
        [
            "E*AssertionError: expected task 'export' not to push any XCom, but it pushed 2:",
            "E*  export key 'debug' = {'rows_written': 3} (19 B)",
            "E*  export key 'uri' = 's3://lake/exports/orders.parquet' (34 B)",
        ],
    ),
    "pulled": (
        'run.assert_pulled("summarize", "extract", "row_count")',
        [
            "E*AssertionError: expected task 'summarize' to read XCom 'row_count' of 'extract', but it did not.",
            "E*'summarize' read: per_region:return_value, stamp:return_value.",
            "E*'extract':'row_count' was read by: nobody.",
        ],
    ),
    "exclusive": (
        'run.assert_exclusive("export", "uri", consumers={"load"})',
        [
            "E*AssertionError: XCom 'export':'uri' is not exclusive to {'load'}.",
            "E*expected readers: {'load'}",
            "E*actual readers:   {'audit', 'load'}",
            "E*unexpected readers: {'audit'}",
            "E*  'audit' read it as explicit",
        ],
    ),
    "exclusive_never_read": (
        'run.assert_exclusive("extract", "row_count", consumers=["load"])',
        [
            "E*AssertionError: XCom 'extract':'row_count' is not exclusive to {'load'}.",
            "E*actual readers:   nobody",
            "E*never read by: {'load'}",
        ],
    ),
    "max_size": (
        'run.assert_max_size("airflow")',
        [
            "E*AssertionError: 2 XCom(s) of DAG 'orders' exceed the serialized size limit of 48.2 KiB (49,344 bytes, preset 'airflow'), largest first:",
            "E*  extract key 'return_value': 59.3 KiB (60,739 bytes)",
            "E*  extract key 'orders': 59.3 KiB (60,710 bytes)",
            "E*Push a reference (e.g. an object-store URI) instead of the data, *",
        ],
    ),
    "max_size_decimal_limit_in_decimal_units": (
        'run.assert_max_size("50KB")',
        [
            "E*AssertionError: 2 XCom(s) of DAG 'orders' exceed the serialized size limit of 50.0 KB (50,000 bytes), largest first:",
            "E*  extract key 'return_value': 60.7 KB (60,739 bytes)",
            "E*  extract key 'orders': 60.7 KB (60,710 bytes)",
        ],
    ),
    "max_size_binary_limit_in_binary_units": (
        'run.assert_max_size("50KiB")',
        [
            "E*AssertionError: 2 XCom(s) of DAG 'orders' exceed the serialized size limit of 50.0 KiB (51,200 bytes), largest first:",
            "E*  extract key 'return_value': 59.3 KiB (60,739 bytes)",
        ],
    ),
    "max_size_stored_for_one_task": (
        'run.assert_max_size("30B", task_id="export", stored=True)',
        [
            "E*AssertionError: 1 XCom(s) of DAG 'orders' exceed the stored size limit of 30 B (30 bytes), largest first:",
            "E*  export key 'uri': 34 B (34 bytes)",
        ],
    ),
    "json_serializable": (
        "run.assert_json_serializable()",
        [
            "E*AssertionError: 1 XCom value(s) are not plain JSON (they rely on Airflow's serde):",
            "E*  stamp key 'return_value': date = datetime.date(2026, 1, 1)",
            "E*Convert them to JSON types *",
        ],
    ),
    "no_unused": (
        'run.assert_no_unused(ignore=["return_value"])',
        [
            "E*AssertionError: 2 pushed XCom(s) were never read by any task:",
            "E*  export key 'debug' (19 B)",
            "E*  extract key 'row_count' (2 B)",
            "E*Stop pushing them (do_xcom_push=False, or return None), or mark them as expected with ignore=[[]('export', 'debug'), ('extract', 'row_count')[]] (task ids and keys work too).",
        ],
    ),
    "expanded": (
        'run.assert_expanded("per_region", 2)',
        [
            "E*AssertionError: expected mapped task 'per_region' to expand into 2 task instance(s), but it expanded into 3.",
            "E*map indexes: [[]0, 1, 2[]]",
            "E*states:      [[]'success', 'success', 'success'[]]",
        ],
    ),
    "inline_vs_offloaded": (
        'run.assert_offloaded("extract", "orders")',
        [
            "E*AssertionError: expected XCom 'extract':'orders' to be offloaded by the XCom backend (backend 'db'), but 1 push(es) were stored inline:",
            "E*  extract key 'orders': size 59.3 KiB, DB holds *",
        ],
    ),
    "implicit_pulls": (
        "run.assert_no_implicit_pulls()",
        [
            "E*AssertionError: 1 ti.xcom_pull() call(s) did not name task_ids:",
            # without task_ids Airflow 2 reads any task's XCom of the key: push's here
            "E*  read pulled key 'path' from task 'push' (found a value)"
            if AIRFLOW2
            else "E*  read pulled key 'path' from its own task id (found nothing)",
        ],
    ),
    "fixture_forwards": (
        'xcom.assert_expanded("per_region", 4)',
        ["E*AssertionError: expected mapped task 'per_region' to expand into 4 task instance(s), but it expanded into 3."],
    ),
    "unknown_task": (
        'run.assert_pushed("extrct")',
        ["E**XComLookupError: task 'extrct' is not in DAG 'orders'; did you mean 'extract'?*"],
    ),
}


@pytest.mark.parametrize("case", sorted(FAILING))
def test_assertion_failure_messages(user_tests, case):
    statement, expected = FAILING[case]
    dag = "kinds_dag" if case == "implicit_pulls" else "orders_dag"
    result = user_tests(
        f"""
        from {dag} import {dag}

        def test_fails(xcom):
            run = xcom.run({dag})
            {statement}
        """,
        dag_files=(f"{dag}.py",),
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(expected)
    # the harness's frames are hidden: the failing line is the user's own statement
    assert "pytest_xcom/assertions.py" not in result.stdout.str()
    assert "pytest_xcom/record.py" not in result.stdout.str()


def test_assertion_introspection_still_works_next_to_the_plugin(user_tests):
    result = user_tests(
        """
        from orders_dag import orders_dag

        def test_plain_assert(xcom):
            run = xcom.run(orders_dag)
            assert run.value("regions") == ["eu", "us"]
        """,
        dag_files=("orders_dag.py",),
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E*AssertionError: assert [[]'eu', 'us', 'apac'[]] == [[]'eu', 'us'[]]"])
