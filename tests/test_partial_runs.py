"""Partial runs (issue #15): ``xcom.run(dag, tasks=[...], upstream=...)`` and ``Given``."""

import json

import pytest
from pytest_xcom import Given, XComRun, XComValueError
from pytest_xcom.record.events import XComPush
from pytest_xcom.record.given import plan_partial_run

from test_reports import _inspect

# Every task that must not run raises: a partial run that ran it fails loudly.
PARTIAL_DAGS = '''
from airflow_compat import dag, task, task_group


@dag(schedule=None)
def etl():
    @task
    def extract():
        raise RuntimeError("extract must not run in a partial run")

    @task
    def transform(data):
        return {key: value * 10 for key, value in data.items()}

    @task
    def load(rows):
        return sum(rows.values())

    load(transform(extract()))


@dag(schedule=None)
def fan():
    @task
    def split():
        raise RuntimeError("split must not run")

    @task
    def double(x):
        return x * 2

    @task
    def total(values):
        return sum(values)

    total(double.expand(x=split()))


@dag(schedule=None)
def keyed():
    @task
    def stats():
        raise RuntimeError("stats must not run")

    @task
    def nums():
        raise RuntimeError("nums must not run")

    @task
    def part(n):
        raise RuntimeError("part must not run")

    @task
    def report(ti=None):
        return {
            "count": ti.xcom_pull(task_ids="stats", key="row_count"),
            "second": ti.xcom_pull(task_ids="part", map_indexes=1),
        }

    [stats(), part.expand(n=nums())] >> report()


@dag(schedule=None)
def shop():
    @task(multiple_outputs=True)
    def extract():
        raise RuntimeError("extract must not run")

    @task
    def count(orders):
        return len(orders)

    @task_group
    def clean(n):
        @task
        def dedupe(n):
            return n + 1

        return dedupe(n)

    clean(count(extract()["orders"]))


etl_dag, fan_dag, keyed_dag, shop_dag = etl(), fan(), keyed(), shop()
'''

def test_partial_runs_through_the_xcom_fixture(user_tests, pytester):
    pytester.makepyfile(partial_dags=PARTIAL_DAGS)
    result = user_tests(
        """
        import json

        import pytest
        from pytest_xcom import Given
        from airflow_compat import AIRFLOW2
        from partial_dags import etl_dag, fan_dag, keyed_dag, shop_dag

        KEYED_GIVEN = [
            Given("stats", 42, key="row_count"),
            Given("nums", ["a", "b"]),
            Given("part", "first", map_index=0),
            Given("part", "second", map_index=1),
        ]

        def test_one_task_with_its_upstream_given(xcom):
            run = xcom.run(etl_dag, tasks=["transform"], upstream={"extract": {"a": 1, "b": 2}})
            run.assert_succeeded()
            assert run.value("transform") == {"a": 10, "b": 20}
            assert run.task_states == {"extract": "success", "transform": "success", "load": "success"}
            assert run.marked_success == ("extract", "load") == xcom.marked_success
            given = run.pushed_by("extract").get()
            assert given.given and given.source == "given" and given.try_number == 0
            assert (given.value, given.pushed, given.size, given.stored_size) == ({"a": 1, "b": 2}, {"a": 1, "b": 2}, 16, 16)
            assert given.seq < min(e.seq for e in run.events() if e is not given)   # before the run's own events
            assert run.consumers("extract") == {"transform"}
            run.assert_pulled("transform", "extract")
            run.assert_not_pushed("load")                      # marked success: it never ran
            assert [p.given for p in run.pushes] == [True, False]
            print(run.report())

        def test_a_mapped_task_expands_over_a_given_list(xcom):
            run = xcom.run(fan_dag, tasks=["double", "total"], upstream=[Given("split", [1, 2, 3, 4])])
            run.assert_succeeded()
            run.assert_expanded("double", 4)
            assert run.expansions("double").values == [2, 4, 6, 8]
            assert run.value("total") == 20
            assert run.consumer_instances("split") == {("double", i) for i in range(4)}

        def test_only_the_fan_in_with_given_map_indexes(xcom):
            given = [Given("split", [1, 2])] + [Given("double", v, map_index=i) for i, v in enumerate([5, 7])]
            run = xcom.run(fan_dag, tasks=["total"], upstream=given)
            run.assert_succeeded()
            assert run.value("total") == 12
            assert run.value("double") == [5, 7] and run.task_states["double"] == ["success", "success"]

        def test_the_manifest_of_a_partial_run_is_stable(xcom):
            first = xcom.run(fan_dag, tasks=["double", "total"], upstream=[Given("split", [1, 2])])
            second = xcom.run(fan_dag, tasks=["double", "total"], upstream=[Given("split", [1, 2])])
            assert first.manifest() == second.manifest()           # what snapshots compare
            split = first.manifest()["xcoms"]["split"]["-1"]["return_value"]
            assert (split["size"], split["consumers"]) == (6, ["double[0]", "double[1]"])

        def test_a_mapped_task_that_does_not_run_needs_no_given(xcom):
            run = xcom.run(fan_dag, tasks=["total"])   # split and double marked success, double unexpanded
            if AIRFLOW2:  # Airflow 2 hands the reader of a mapped task with no instances None, not []
                assert run.task_states == {"split": "success", "double": [], "total": "failed"}
                assert run.failures["total"].strip().endswith("TypeError: 'NoneType' object is not iterable")
                return
            run.assert_succeeded()
            assert run.task_states == {"split": "success", "double": [], "total": "success"}
            assert run.value("total") == 0 and run.pushes[0].task_id == "total"

        def test_a_given_key_and_a_given_map_index(xcom):
            run = xcom.run(keyed_dag, tasks=["report"], upstream=KEYED_GIVEN)
            run.assert_succeeded()
            assert run.value("report") == {"count": 42, "second": "second"}
            assert run.consumers("stats", "row_count") == {"report"}
            assert run.consumer_instances("part") == {("report", -1)}
            assert run.pushed_by("part", map_index=1).get().given
            assert run.marked_success == ("stats", "nums", "part")

        @pytest.mark.xcom_backend("s3", threshold=0)
        def test_given_xcoms_go_through_the_backend(xcom, xcom_s3):
            run = xcom.run(keyed_dag, tasks=["report"], upstream=KEYED_GIVEN)
            run.assert_succeeded()
            assert run.value("report") == {"count": 42, "second": "second"}   # read back from the bucket
            run.assert_offloaded("stats", "row_count")
            stored = run.pushed_by("stats").get("row_count").stored
            assert stored.startswith("s3://") and run.value("stats", "row_count") == 42
            keys = xcom_s3.keys(prefix="xcom/keyed/")
            assert len(keys) == 5                      # four given XComs and the report's own
            assert any(stored.endswith(key) for key in keys)
            assert sorted(json.loads(xcom_s3.read(k)) for k in keys if "/part/" in k) == ["first", "second"]

        def test_multiple_outputs_and_task_group_members(xcom):
            run = xcom.run(shop_dag, tasks=["count", "clean.dedupe"], upstream={"extract": {"orders": [1, 2, 3]}})
            run.assert_succeeded()
            assert run.pushed_by("extract").keys == {"orders", "return_value"}   # unrolled as Airflow does
            assert run.value("clean.dedupe") == 4
            assert run.consumers("extract", "orders") == {"count"}

        def test_a_normal_run_is_unchanged(xcom):
            run = xcom.run(fan_dag, tasks=None, upstream=None)
            assert run.failures["split"].rstrip().endswith("RuntimeError: split must not run")
            assert run.marked_success == () and not any(p.given for p in run.pushes)
            report = run.report()
            assert "partial run" not in report and "source" not in report
        """,
        "-s",
        "--xcom-report=report.html",
    )
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(
        [
            "XCom report for DAG 'etl', run manual__2026-01-01T00:00:00+00:00 (success): 2 XCom(s), 34 B, 1 read(s), *",
            "  partial run: ran transform; marked success without running: extract, load",
            "  task * map * key * size * stored * offloaded * source",
            "  extract * - * return_value * 16 B * 16 B * no * given",
            "      -> read by: transform",
            "  transform * - * return_value * 18 B * 18 B * no * task",
        ]
    )
    html = (pytester.path / "report.html").read_text()
    assert html.count(">given</span>") >= 10  # every given XCom of every run is badged
    assert "marked success without running</span> <code>extract</code>, <code>load</code>" in html


def test_strict_policy_and_assert_no_unused_cover_given_xcoms(user_tests, pytester):
    pytester.makepyfile(partial_dags=PARTIAL_DAGS)
    result = user_tests(
        """
        import pytest
        from pytest_xcom import Given
        from partial_dags import keyed_dag

        def test_unused(xcom):
            run = xcom.run(keyed_dag, tasks=["report"], upstream=[Given("nums", ["a"]), Given("part", 1, map_index=0)])
            run.assert_succeeded()
            with pytest.raises(AssertionError, match=r"nums key 'return_value'"):
                run.assert_no_unused(ignore=("report",))
            run.assert_no_unused(ignore=("report", "nums", "part"))

        @pytest.mark.xcom_policy(strict=True)
        def test_strict(xcom):
            xcom.run(keyed_dag, tasks=["report"], upstream=[Given("nums", ["a"]), Given("part", 1, map_index=0)])
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*XCom policy (strict) violated:", "*pushed XCom(s) were never read by any task:", "*nums key 'return_value'*"]
    )


def test_every_mistake_is_a_clear_error(user_tests, pytester):
    pytester.makepyfile(partial_dags=PARTIAL_DAGS)
    result = user_tests(
        """
        import pytest
        from pytest_xcom import Given, XComError, XComValueError
        from airflow_compat import AIRFLOW2
        from partial_dags import etl_dag, fan_dag, shop_dag

        def test_mistakes(xcom):
            def error(dag, **kwargs):
                with pytest.raises(XComValueError) as info:
                    xcom.run(dag, **kwargs)
                assert isinstance(info.value, XComError) and isinstance(info.value, ValueError)
                print("ERROR", info.value)
                return str(info.value)

            assert "did you mean 'transform'?" in error(etl_dag, tasks=["trasform"])
            assert "Its tasks are: extract, transform, load" in error(etl_dag, tasks=["load", "nope"])
            assert "'dedupe' (did you mean 'clean.dedupe'?)" in error(shop_dag, tasks=["dedupe"])
            assert "tasks= is empty" in error(etl_dag, tasks=[])
            assert "needs tasks= too" in error(etl_dag, upstream={"extract": {}})
            assert "'transform' runs in this partial run" in error(
                etl_dag, tasks=["transform"], upstream={"transform": {}}
            )
            message = error(etl_dag, tasks=["transform"], upstream=[Given("extrat", {})])
            assert "task 'extrat' is not in DAG 'etl' (did you mean 'extract'?)" in message
            assert "neither a pytest_xcom.Given" in error(etl_dag, tasks=["load"], upstream=[("extract", 1)])
            assert "or a list of pytest_xcom.Given" in error(etl_dag, tasks=["load"], upstream="extract")
            assert "for one XCom, wrap it in a list" in error(etl_dag, tasks=["load"], upstream=Given("extract", {}))
            assert "twice" in error(etl_dag, tasks=["load"], upstream=[Given("extract", {}), {"extract": {}}])
            assert "must be a list or a dict, not int" in error(fan_dag, tasks=["total"], upstream={"split": 3})
            assert "give each one with map_index=0" in error(fan_dag, tasks=["total"], upstream=[Given("double", 1)])
            assert "is not mapped" in error(etl_dag, tasks=["load"], upstream=[Given("extract", 1, map_index=0)])
            assert "multiple_outputs=True" in error(shop_dag, tasks=["count"], upstream={"extract": [1]})
            message = error(fan_dag, tasks=["double"])
            assert message == (
                "task 'double' runs and expands over the return value of 'split', which does not run: "
                "give it in upstream= (e.g. upstream={'split': [...]}) or run it too"
            )
            message = error(fan_dag, tasks=["total"], upstream=[Given("double", 1, map_index=0)])
            assert "no such task instance existed in the run" in message
            message = error(etl_dag, tasks=["transform"], upstream={"extract": {"when": object()}})
            base = "airflow.models.xcom.BaseXCom" if AIRFLOW2 else "airflow.sdk.bases.xcom.BaseXCom"
            assert message.startswith(f"upstream Given('extract'): the XCom backend {base}")
            # Airflow 2's JSON encoder says it its own way
            reason = "object of type object is not json serializable" if AIRFLOW2 else "cannot serialize object"
            assert f"cannot serialize 'return_value' (dict): typeerror: {reason}" in message.lower()
            # the harness is usable after each of them
            assert [r.dag_id for r in xcom.runs] == []
            xcom.run(etl_dag, tasks=["transform"], upstream={"extract": {"a": 1}}).assert_succeeded()
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR tasks= names task(s) not in DAG 'etl': 'trasform' (did you mean 'transform'?). "
            "Its tasks are: extract, transform, load",
        ]
    )


def test_inspect_runs_a_partial_run(pytester):
    only_fan = PARTIAL_DAGS.rsplit("\n\n\n", 1)[0] + "\n\n\nfan()\n"  # one DAG in the file
    pytester.makepyfile(partial_dags=only_fan)
    result = _inspect(pytester, "partial_dags.py", "--task", "double", "--task", "total", "--given", "split=[1, 2, 3]")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "XCom report for DAG 'fan', run * (success): 5 XCom(s), *",
            "  partial run: ran double, total; marked success without running: split",
            "  split * - * return_value * 9 B * 9 B * no * given",
            "  total * - * return_value * 2 B * 2 B * no * task",
        ]
    )
    result = _inspect(pytester, "partial_dags.py", "--task", "total", "--given", "split=[1]", "--given", "double[0]=41")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["  double * 0 * return_value * 2 B * 2 B * no * given", "  total * - * return_value * 2 B*"])
    result = _inspect(pytester, "partial_dags.py", "--given", "split=[1]")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-xcom: --given needs --task*"])
    result = _inspect(pytester, "partial_dags.py", "--task", "total", "--given", "split=[1,")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-xcom: --given 'split=[1,': the value is not valid JSON: *"])
    result = _inspect(pytester, "partial_dags.py", "--task", "totl")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-xcom: tasks= names task(s) not in DAG 'fan': 'totl' (did you mean 'total'?)*"])


# -- without Airflow -------------------------------------------------------------------------------


def test_given_is_exported_and_keyword_only():
    assert Given("t", 1) == Given("t", 1, key="return_value", map_index=-1)
    with pytest.raises(TypeError):
        Given("t", 1, "k")  # type: ignore[misc]
    assert Given("t", 1, key="k", map_index=2).label == "Given('t', key='k', map_index=2)"


def test_plan_of_a_partial_run():
    ids = ["extract", "transform", "load"]
    assert plan_partial_run("d", ids, None, None) is None
    plan = plan_partial_run("d", ids, "transform", {"extract": 1})  # one id as a plain string
    assert plan is not None
    assert (plan.run, plan.marked_success, plan.given) == (("transform",), ("extract", "load"), (Given("extract", 1),))
    with pytest.raises(XComValueError, match=r"map_index is -1"):
        plan_partial_run("d", ids, ["load"], [Given("extract", 1, map_index=-2)])
    with pytest.raises(XComValueError, match=r"tasks= takes task ids \(strings\), got 3"):
        plan_partial_run("d", ids, ["load", 3], None)


def test_marked_success_travels_with_the_run():
    push = XComPush(
        task_id="t", map_index=-1, key="return_value", value=1, size=1, stored=1, stored_size=1,
        offloaded=False, json_serializable=True, given=True, source="given", try_number=0,
    )
    run = XComRun(
        dag_id="d", run_id="r", logical_date=None, state="success", task_states={"t": "success", "u": "success"},
        failures={}, pushes=[push], pulls=[], deletes=[], task_ids=("t", "u"), marked_success=("t",),
    )
    back = XComRun.from_dict(json.loads(json.dumps(run.to_dict())))
    assert back.marked_success == ("t",) and back.pushes[0].given and back.pushes[0].source == "given"
    assert "partial run: ran u; marked success without running: t" in back.report()
