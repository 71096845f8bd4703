"""Recording: every push/pull kind, mapped tasks, failures, and the queries over a run."""

from airflow_compat import requires_airflow3


def test_every_push_and_pull_kind_is_recorded(user_tests):
    result = user_tests(
        """
        from airflow_compat import AIRFLOW2
        from kinds_dag import kinds_dag

        def test_kinds(xcom):
            run = xcom.run(kinds_dag)
            run.assert_succeeded()

            # TaskFlow multiple_outputs: one XCom per key plus the whole dict
            assert run.pushed_by("stats").keys == {"return_value", "rows", "bytes"}
            assert run.pushed_by("stats").values["rows"] == 3
            # explicit ti.xcom_push from a classic operator
            assert run.pushed_by("push").get("path").value == "s3://bucket/orders.csv"
            # BashOperator pushes the last line of stdout
            assert run.value("bash") == "last-line"

            kinds = {(p.task_id, p.source_task_id, p.key): p.kind for p in run.pulls if p.found}
            assert kinds[("use_rows", "stats", "rows")] == "argument"
            assert kinds[("read", "push", "path")] == "explicit"
            assert kinds[("jinja", "bash", "return_value")] == "explicit"   # {{ ti.xcom_pull(...) }}
            assert kinds[("templ", "make_cmd", "return_value")] == "argument"  # XComArg in a template
            assert run.value("templ") == "from-xcomarg"

            own = [p for p in run.pulled_by("read") if not p.task_ids_explicit]
            # xcom_pull without task_ids: Airflow 3 reads the task's own XComs, Airflow 2 any task's
            expected = [("push", True)] if AIRFLOW2 else [("read", False)]
            assert [(p.source_task_id, p.found) for p in own] == expected

            assert run.consumers("stats", "rows") == {"use_rows"}
            assert run.consumer_instances("bash") == {("jinja", -1)}
            assert run.consumers("use_rows") == set()
            print("SIZE", run.size("push", "path"), run.stored_size("push", "path"))
        """,
        "-s",
        dag_files=("kinds_dag.py",),
    )
    result.assert_outcomes(passed=1)
    # '"s3://bucket/orders.csv"' is 24 bytes of JSON, stored as-is by the DB backend
    result.stdout.fnmatch_lines(["SIZE 24 24"])


def test_mapped_tasks_single_expansion_and_mapped_task_group(user_tests):
    result = user_tests(
        """
        from mapped_dag import mapped_dag

        def test_mapped(xcom):
            run = xcom.run(mapped_dag)
            run.assert_succeeded()

            exp = run.expansions("size")
            assert (exp.count, exp.map_indexes, exp.values) == (3, [0, 1, 2], [50, 50, 50])
            assert exp.states == ["success"] * 3
            assert run.value("size") == [50, 50, 50]
            assert run.value("size", map_index=1) == 50
            assert run.size("size") == 6                       # three pushes of "50"
            assert run.value("total") == 150
            # lazy per-index reads of the mapped upstream are recorded as argument pulls
            reads = sorted(p.source_map_index for p in run.pulled_by("total"))
            assert reads == [0, 1, 2]
            assert {p.kind for p in run.pulled_by("total")} == {"argument"}

            # a single expansion stays a one-element list downstream
            assert run.expansions("load").count == 1
            assert run.value("collect") == [{"loaded": "only.csv"}]
            assert run.value("load") == [{"loaded": "only.csv"}]

            # a mapped task group: every task inside is mapped
            assert run.expansions("per_day.fetch").count == 2
            assert run.value("per_day.clean") == ["DAY-1", "DAY-2"]
            assert run.consumer_instances("per_day.fetch") == {("per_day.clean", 0), ("per_day.clean", 1)}
            assert run.value("summary") == ["DAY-1", "DAY-2"]
            assert run.task_states["per_day.clean"] == ["success", "success"]
            assert run.pushed_by("size").values == {"return_value": [50, 50, 50]}
        """,
        dag_files=("mapped_dag.py",),
    )
    result.assert_outcomes(passed=1)


def test_expansions_of_an_unmapped_task_is_a_clear_error(user_tests):
    result = user_tests(
        """
        import pytest
        from mapped_dag import mapped_dag

        def test_unmapped(xcom):
            run = xcom.run(mapped_dag)
            with pytest.raises(LookupError) as info:
                run.expansions("total")
            print("ERR", info.value)
        """,
        "-s",
        dag_files=("mapped_dag.py",),
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ERR task 'total' is not mapped, so it has no expansions (mapped tasks in 'mapped':*load*size*)"])


def test_failing_task_is_recorded_not_raised(user_tests):
    result = user_tests(
        """
        from failing_dag import failing_dag

        def test_failure_is_recorded(xcom):
            run = xcom.run(failing_dag)
            assert not run.succeeded and run.state == "failed"
            assert run.task_states["transform"] == "failed"
            assert run.task_states["load"] == "upstream_failed"
            assert list(run.failures) == ["transform"]
            assert "ValueError" in run.failures["transform"]

        def test_assert_succeeded_shows_the_traceback(xcom):
            xcom.run(failing_dag)
            xcom.assert_succeeded()
        """,
        dag_files=("failing_dag.py",),
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*DAG run 'failing' (manual__2026-01-01T00:00:00+00:00) ended 'failed', expected 'success'.",
            "*1 task instance(s) failed:",
            "*--- transform ---",
            "*Traceback (most recent call last; * Airflow frames hidden):",
            '*failing_dag.py", line *, in parse',
            "*ValueError: invalid literal for int() with base 10: 'not-a-number'",
        ]
    )
    # the harness's own frames are hidden from the pytest traceback
    assert "pytest_xcom/assertions.py" not in result.stdout.str()


def test_pushed_by_get_is_loud_on_absent_and_ambiguous(user_tests):
    result = user_tests(
        """
        import pytest
        from mapped_dag import mapped_dag

        def test_get(xcom):
            run = xcom.run(mapped_dag)
            with pytest.raises(LookupError) as absent:
                run.pushed_by("files").get("rows")
            with pytest.raises(LookupError) as ambiguous:
                run.pushed_by("size").get()
            assert run.pushed_by("size").get(map_index=2).value == 50
            with pytest.raises(LookupError) as typo:
                run.pushed_by("sizes")
            print("ABSENT", absent.value)
            print("AMBIGUOUS", ambiguous.value)
            print("TYPO", typo.value)
        """,
        "-s",
        dag_files=("mapped_dag.py",),
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "ABSENT task 'files' pushed no XCom with key 'rows'; it pushed: 'return_value'",
            "AMBIGUOUS task 'size' pushed key 'return_value' at 3 map indexes [[]0, 1, 2[]]; pass map_index= to pick one",
            "TYPO task 'sizes' is not in DAG 'mapped'; did you mean 'size'*",
        ]
    )


def test_fixture_forwards_queries_to_the_last_run_and_errs_before_any(user_tests):
    result = user_tests(
        """
        import pytest
        from mapped_dag import mapped_dag
        from failing_dag import failing_dag

        def test_forwarding(xcom):
            with pytest.raises(RuntimeError, match="no DAG run yet in this test: call xcom.run"):
                xcom.pushed_by("files")
            first = xcom.run(mapped_dag)
            assert xcom.pushed_by("files").keys == {"return_value"}
            second = xcom.run(failing_dag)
            assert xcom.runs == [first, second] and xcom.last_run is second
            assert xcom.dag_id == "failing" and not xcom.succeeded
        """,
        dag_files=("mapped_dag.py", "failing_dag.py"),
    )
    result.assert_outcomes(passed=1)


def test_report_and_manifest(user_tests):
    result = user_tests(
        """
        import json
        from mapped_dag import mapped_dag

        def test_report(xcom):
            run = xcom.run(mapped_dag)
            print(run.report())
            manifest = run.manifest()
            json.dumps(manifest)
            assert manifest == xcom.run(mapped_dag).manifest()      # deterministic
            entry = manifest["xcoms"]["size"]["1"]["return_value"]
            assert entry["type"] == "int" and entry["size"] == 2 and entry["consumers"] == ["total"]
            assert not entry["offloaded"] and len(entry["sha256"]) == 64
            assert (entry["value"], entry["value_type"]) == ("50", "int")
            assert "manual__" not in json.dumps(manifest)             # no run ids
        """,
        "-s",
        dag_files=("mapped_dag.py",),
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "XCom report for DAG 'mapped', run manual__2026-01-01T00:00:00+00:00 (success): *",
            "  task * map * key * size * stored * offloaded",
            "  files * - * return_value * 27 B * 27 B * no",
            "      -> read by: size[[]0[]], size[[]1[]], size[[]2[]]",
            "  size * 0 * return_value * 2 B * 2 B * no",
            "      -> read by: total",
        ]
    )


def test_run_arguments(user_tests):
    result = user_tests(
        """
        import datetime, pytest
        from airflow_compat import dag, task

        @dag(schedule=None)
        def confd():
            @task
            def echo(params=None, dag_run=None, logical_date=None):
                return {"conf": dag_run.conf, "date": logical_date.isoformat()}
            echo()

        confd_dag = confd()

        def test_conf_and_date(xcom):
            run = xcom.run(confd_dag, conf={"day": "mon"}, logical_date="2025-03-04")
            assert run.value("echo") == {"conf": {"day": "mon"}, "date": "2025-03-04T00:00:00+00:00"}
            assert run.run_id == "manual__2025-03-04T00:00:00+00:00"

        def test_bad_arguments(xcom):
            with pytest.raises(TypeError, match="conf must be JSON-serializable"):
                xcom.run(confd_dag, conf={"when": datetime.date.today()})
            with pytest.raises(ValueError, match="not an ISO 8601 date"):
                xcom.run(confd_dag, logical_date="yesterday")
            with pytest.raises(TypeError, match="takes an Airflow DAG object, not function"):
                xcom.run(confd)
        """,
    )
    result.assert_outcomes(passed=2)


@requires_airflow3(
    "a mapped task group's results reach an unmapped reader as a lazy sequence there, read (and recorded) "
    "item by item only when the task takes them; nothing to collapse (apache/airflow#69036 is 3.2+)"
)
def test_what_a_consumer_received_shows_a_collapsed_single_expansion(user_tests):
    result = user_tests(
        """
        from airflow_compat import dag, task, task_group

        @dag(schedule=None)
        def regions():
            @task_group
            def per_region(region):
                @task
                def revenue(region):
                    return {"region": region, "revenue": 10}
                return revenue(region)

            @task
            def summarize(rows):
                items = list(rows) if type(rows).__name__ == "LazyXComSequence" else rows
                return [type(rows).__name__, items]

            summarize(per_region.expand(region=["uk"]))

        regions_dag = regions()

        def test_received(xcom):
            run = xcom.run(regions_dag)
            run.assert_succeeded()
            (read,) = run.pulled_by("summarize")
            received, items = run.value("summarize")
            if read.received_type is None:  # a lazy sequence: the read is the item the task iterated to
                assert (read.source_map_index, read.kind) == (0, "argument")
            else:
                assert read.received_type == received   # what the task really got
            print("RECEIVED", received, items)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    # Airflow 3.3.2 hands a single mapped-task-group result over bare (apache/airflow#69036); 3.0,
    # 3.1 and an Airflow that fixed it hand over a one-element list; 3.4 a lazy sequence, read item by
    # item. Whichever, it is on record.
    expected = {"dict": "*RECEIVED dict {*", "list": "*RECEIVED list [[]{*}]", "lazy": "*RECEIVED LazyXComSequence [[]{*}]"}
    result.stdout.fnmatch_lines([expected[_single_group_result()]])


def _single_group_result() -> str:
    from pytest_xcom import _airflow

    if _airflow.hands_group_results_lazily():
        return "lazy"
    return "dict" if _airflow.collapses_single_group_expansion() else "list"


def test_a_rebuilt_dag_with_the_same_id_runs_its_own_tasks(user_tests):
    result = user_tests(
        """
        from airflow_compat import dag, task, task_group

        def build(with_group):
            @dag(dag_id="same_id", schedule=None)
            def same():
                @task
                def a():
                    return [1, 2]

                if with_group:
                    @task_group
                    def grp(x):
                        @task
                        def inner(x):
                            return x * 10
                        return inner(x)

                    @task
                    def total(values):
                        return sorted(values)

                    total(grp.expand(x=a()))
                else:
                    @task
                    def b(values):
                        return sum(values)

                    b(a())

            return same()

        def test_rebuilt(xcom):
            xcom.run(build(False)).assert_succeeded()
            run = xcom.run(build(True), logical_date="2026-01-02")
            run.assert_succeeded()
            assert run.value("total") == [10, 20]
        """
    )
    result.assert_outcomes(passed=1)
