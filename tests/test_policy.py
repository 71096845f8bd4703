"""Suite-wide policy: --xcom-max-size, --xcom-strict, their ini twins and the xcom_policy marker."""

import pytest

from airflow_compat import AIRFLOW2

BIG = """
from orders_dag import orders_dag

def test_orders(xcom):
    xcom.run(orders_dag).assert_succeeded()
"""


def test_max_size_option_fails_the_test_that_made_the_run(user_tests):
    result = user_tests(BIG, "--xcom-max-size=airflow", dag_files=("orders_dag.py",))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*XCom policy (max_size='airflow') violated:",
            "*2 XCom(s) of DAG 'orders' exceed the serialized size limit of 48.2 KiB (49,344 bytes, preset 'airflow'), largest first:",
            "*extract key 'return_value': 59.3 KiB (60,739 bytes)",
            "FAILED test_user.py::test_orders - Failed: XCom policy*",
        ]
    )


def test_ini_twin_and_a_budget_that_is_respected(user_tests, pytester):
    pytester.makeini("[pytest]\nxcom_max_size = 64KiB\n")
    result = user_tests(BIG, dag_files=("orders_dag.py",))
    result.assert_outcomes(passed=1)


def test_strict_mode(user_tests):
    result = user_tests(BIG, "--xcom-strict", dag_files=("orders_dag.py",))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*XCom policy (strict) violated:",
            "*1 XCom value(s) are not plain JSON (they rely on Airflow's serde):",
            "*stamp key 'return_value': date = datetime.date(2026, 1, 1)",
            "*pushed XCom(s) were never read by any task:",
        ]
    )


def test_strict_flags_xcom_pull_without_task_ids(user_tests):
    result = user_tests(
        """
        from kinds_dag import kinds_dag

        def test_kinds(xcom):
            xcom.run(kinds_dag)
        """,
        "--xcom-strict",
        dag_files=("kinds_dag.py",),
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 ti.xcom_pull() call(s) did not name task_ids:",
            # without task_ids Airflow 2 reads any task's XCom of the key: push's here
            "*read pulled key 'path' from task 'push' (found a value)"
            if AIRFLOW2
            else "*read pulled key 'path' from its own task id (found nothing)",
        ]
    )


def test_marker_overrides_the_suite_setting(user_tests):
    result = user_tests(
        """
        import pytest
        from orders_dag import orders_dag

        @pytest.mark.xcom_policy(max_size="mysql")
        def test_relaxed(xcom):
            xcom.run(orders_dag)

        @pytest.mark.xcom_policy(max_size=None)
        def test_no_budget(xcom):
            xcom.run(orders_dag)

        def test_suite_budget(xcom):
            xcom.run(orders_dag)

        @pytest.mark.xcom_policy(strict=True, max_size="1MB")
        class TestStrict:
            def test_strict(self, xcom):
                xcom.run(orders_dag)
        """,
        "--xcom-max-size=48KB",
        dag_files=("orders_dag.py",),
    )
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines_random(
        ["*XCom policy (max_size='48KB') violated:",
         "*XCom policy (max_size='1MB', strict) violated:",
         "FAILED test_user.py::test_suite_budget - Failed: XCom policy*",
         "FAILED test_user.py::TestStrict::test_strict - Failed: XCom policy*"]
    )


def test_the_tests_own_failure_wins_and_violations_are_attached(user_tests):
    result = user_tests(
        """
        from orders_dag import orders_dag

        def test_own_failure(xcom):
            xcom.run(orders_dag)
            assert 1 == 2, "the test's own failure"
        """,
        "--xcom-max-size=1KB",
        dag_files=("orders_dag.py",),
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the test's own failure", "*- Captured xcom policy call -*", "*exceed the serialized size limit of 1.0 KB (1,000 bytes)*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--xcom-max-size=48XB",), "ERROR: --xcom-max-size / xcom_max_size: cannot read size limit '48XB'*"),
        (("-o", "xcom_strict=maybe"), "ERROR: --xcom-strict / xcom_strict must be true or false, not 'maybe'"),
    ],
)
def test_bad_option_values_are_usage_errors(user_tests, args, message):
    result = user_tests("def test_x():\n    pass\n", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_marker_arguments(user_tests):
    result = user_tests(
        """
        import pytest

        @pytest.mark.xcom_policy(maxsize="48KB")
        def test_typo(xcom):
            pass

        @pytest.mark.xcom_policy(max_size="48 parsecs")
        def test_bad_size(xcom):
            pass

        @pytest.mark.xcom_policy("48KB")
        def test_positional(xcom):
            pass
        """
    )
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*@pytest.mark.xcom_policy got unknown argument(s) maxsize; it accepts: max_size, strict",
            "*@pytest.mark.xcom_policy(max_size=...): cannot read size limit '48 parsecs'*",
            "*@pytest.mark.xcom_policy takes keyword arguments only (max_size, strict), got positional ('48KB',)",
        ]
    )


def test_terminal_summary(user_tests):
    result = user_tests(
        """
        from orders_dag import orders_dag
        from mapped_dag import mapped_dag

        def test_orders(xcom):
            xcom.run(orders_dag)

        def test_mapped(xcom):
            xcom.run(mapped_dag)

        def test_no_xcom_use():
            pass
        """,
        "--xcom-max-size=airflow",
        dag_files=("orders_dag.py", "mapped_dag.py"),
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= pytest-xcom =*",
            "2 DAG run(s) in 2 test(s): 27 XCom(s), 119.0 KiB in total",
            "Runs with the most XCom bytes:",
            "   118.9 KiB  orders (13 XComs)  test_user.py::test_orders",
            "       146 B  mapped (14 XComs)  test_user.py::test_mapped",
            "Largest XComs:",
            "    59.3 KiB  orders.extract 'return_value'  test_user.py::test_orders",
            "XCom policy violations in 1 test(s):",
            "  test_user.py::test_orders (orders): 2 XCom(s) of DAG 'orders' exceed the serialized size limit *",
        ]
    )


def test_summary_under_xdist_sees_every_worker(user_tests):
    result = user_tests(
        """
        import pytest
        from mapped_dag import mapped_dag

        @pytest.mark.parametrize("n", range(4))
        def test_mapped(xcom, n):
            xcom.run(mapped_dag)
        """,
        "-n",
        "2",
        dag_files=("mapped_dag.py",),
        subprocess=True,
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["4 DAG run(s) in 4 test(s): 56 XCom(s), 584 B in total"])
