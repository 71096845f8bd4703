"""Task loops in the record (Airflow 3.4; api.md section 9), the way users query them."""

import pytest

from airflow_compat import requires_task_loops

pytestmark = requires_task_loops()


def literal(line: str) -> str:
    """``line`` as an fnmatch pattern that matches it literally (brackets are character classes there)."""
    return "".join("[[]" if c == "[" else "[]]" if c == "]" else c for c in line)

LOOP_DAGS = '''
from airflow.sdk import LoopDecision, dag, task, task_group
from airflow.sdk.definitions._internal.contextmanager import DagContext


def output_of(task_id):
    return DagContext.get_current().get_task(task_id).output


@dag(schedule=None)
def refining():
    @task
    def seed():
        return 1

    @task_group
    def refine(start):
        @task
        def score(start, *, loop, ti=None):
            ti.xcom_push(key="notes", value=f"iteration {loop.index}")
            return (start if loop.index == 0 else loop.previous) * 10

        score(start)

    def good_enough(*, loop):
        value = loop.result
        return LoopDecision(stop=value >= 100, reason=f"score {value}")

    refine.partial(start=seed()).loop(max_iterations=5, until=good_enough)

    @task
    def publish(scores):
        return list(scores)

    publish(output_of("refine.score"))


@dag(schedule=None)
def batches():
    @task_group
    def batch():
        @task
        def items(*, loop):
            return [loop.index, loop.index + 1]

        @task
        def double(x):
            return 2 * x

        double.expand(x=items())

    batch.loop(max_iterations=2)


def never(*, loop):
    return LoopDecision(stop=False, reason=f"not yet at {loop.index}")


@dag(schedule=None)
def endless():
    @task_group
    def spin():
        @task
        def turn(*, loop):
            return loop.index

        turn()

    spin.loop(max_iterations=2, until=never)


refining_dag, batches_dag, endless_dag = refining(), batches(), endless()
'''


@pytest.fixture
def loop_dags(pytester):
    pytester.makepyfile(loop_dags=LOOP_DAGS)


def test_iterations_are_recorded_queried_and_reported(user_tests, loop_dags):
    result = user_tests(
        """
        from loop_dags import refining_dag

        def test_refine(xcom):
            run = xcom.run(refining_dag)
            run.assert_succeeded()
            assert run.task_states["refine.score"] == ["success", "success"]
            assert run.value("refine.score") == 100                     # the last iteration
            assert run.value("refine.score", iteration=0) == 10
            assert xcom.value("refine.score", iteration=0) == 10        # the same on the fixture
            assert run.pushed_by("refine.score", iteration=1).values == {"return_value": 100, "notes": "iteration 1"}
            assert [p.iteration for p in run.history("refine.score")] == [0, 1]
            previous = [p for p in run.pulled_by("refine.score", iteration=1) if p.previous_iteration]
            assert [(p.source_task_id, p.source_iteration, p.kind) for p in previous] == [("refine.score", 0, "explicit")]
            assert [(p.source, p.found) for p in run.pulled_by("publish")] == [
                ("refine.score@0", True), ("refine.score@1", True)]
            assert run.value("publish") == [10, 100]                    # every iteration, as Airflow hands it over
            loop = run.loop("refine")
            print("LOOP", loop.count, loop.values, loop.states, loop.reasons, loop.stopped_by)
            run.assert_iterations("refine", 2)
            assert run.consumers("refine.score") == {"refine.score", "refine.good_enough", "publish"}
            print(run.report())
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            literal("LOOP 2 [10, 100] ['success', 'success'] ['score 10', 'score 100'] until"),
            "*refine.score@0*return_value*",
            "*refine.good_enough@1*_airflow_loop_decision_reason*",
        ]
    )


def test_a_mapped_task_in_a_loop_expands_per_iteration(user_tests, loop_dags):
    result = user_tests(
        """
        from loop_dags import batches_dag

        def test_batches(xcom):
            run = xcom.run(batches_dag)
            run.assert_succeeded()
            assert run.task_states["batch.double"] == [["success", "success"], ["success", "success"]]
            assert run.expansions("batch.double").values == [2, 4]              # the last iteration
            assert run.expansions("batch.double", iteration=0).values == [0, 2]
            run.assert_expanded("batch.double", 2, iteration=0)
            assert run.value("batch.double", map_index=1, iteration=0) == 2
            assert run.loop("batch").values == [0, 2, 2, 4]                   # as a reader outside gets them
            assert run.loop("batch").stopped_by == "max_iterations"
            assert run.manifest()["expansions"]["batch.double"] == [2, 2]
            assert run.manifest()["xcoms"]["batch.double"]["1@0"]["return_value"]["value"] == "2"
            print("LABELS", sorted({p.instance for p in run.pushes if p.task_id == "batch.double"}))
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [literal("LABELS ['batch.double[0]@0', 'batch.double[0]@1', 'batch.double[1]@0', 'batch.double[1]@1']")]
    )


def test_loop_assertions_fail_with_what_happened(user_tests, loop_dags):
    result = user_tests(
        """
        from loop_dags import endless_dag, refining_dag

        def test_wrong_count(xcom):
            xcom.run(refining_dag).assert_iterations("refine", 4)

        def test_unknown_loop(xcom):
            xcom.run(refining_dag).loop("refin")

        def test_iteration_out_of_range(xcom):
            xcom.run(refining_dag).value("refine.score", iteration=5)

        def test_iteration_outside_a_loop(xcom):
            xcom.run(refining_dag).value("seed", iteration=0)

        def test_exhausted(xcom):
            run = xcom.run(endless_dag)
            loop = run.loop("spin")
            print("EXHAUSTED", run.state, loop.count, loop.stopped_by, loop.reasons, sorted(run.failures))
            run.assert_succeeded()
        """,
        "-s",
    )
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(
        [
            "*" + literal("EXHAUSTED failed 2 max_iterations ['not yet at 0', 'not yet at 1'] ['spin.never@1']"),
            "*expected task loop 'refine' to run 4 iteration(s), but it ran 2 (max_iterations=5, stopped by until).",
            literal("*gate 'refine.good_enough' states: ['success', 'success']"),
            literal("*decision reasons: ['score 10', 'score 100']"),
            literal("*terminal 'refine.score' values: [10, 100]"),
            "*'refin' is not a task loop of DAG 'refining'; did you mean 'refine'? Its loops are: refine",
            "*task 'refine.score' ran 2 loop iteration(s) (0 to 1), so there is no iteration 5",
            "*task 'seed' is not inside a task loop, so it has no iteration 0; leave iteration= out*",
            "*--- spin.never@1 ---*",
            "*LoopMaxIterationsExceeded: Loop condition remained false at max_iterations=2: not yet at 1",
            "*Airflow log: spin.never@1*",   # the failed gate's own log, in a section of its own
        ]
    )


def test_the_decision_reason_is_airflows_own_for_the_strict_policy(user_tests, loop_dags):
    # The gate's reason is an XCom Airflow's server writes: recorded, never blamed on the user by
    # --xcom-strict; the strict policy here fails only for the user's own unread "notes".
    result = user_tests(
        """
        import pytest
        from loop_dags import refining_dag

        @pytest.mark.xcom_policy(strict=True)
        def test_strict(xcom):
            run = xcom.run(refining_dag)
            reasons = [p for p in run.pushes if p.key == "_airflow_loop_decision_reason"]
            assert [(p.instance, p.value, p.source) for p in reasons] == [
                ("refine.good_enough@0", "score 10", "airflow"), ("refine.good_enough@1", "score 100", "airflow")]
            assert ("refine.good_enough", "_airflow_loop_decision_reason") in run.airflow_xcoms

        def test_unused(xcom):
            run = xcom.run(refining_dag)
            run.assert_no_unused(ignore=["notes", "publish", ("refine.good_enough", "_airflow_loop_decision_reason")])
            run.assert_no_unused(ignore=["notes", "publish"])
        """,
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*XCom policy (strict) violated:",
            "*2 pushed XCom(s) were never read by any task:",
            "*refine.score@0 key 'notes' (13 B)",
            "*refine.score@1 key 'notes' (13 B)",
            "*Stop pushing them*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: 2 pushed XCom(s) were never read by any task:",
            "*refine.good_enough@0 key '_airflow_loop_decision_reason'*",
            "*Of these, Airflow pushes ('refine.good_enough', '_airflow_loop_decision_reason') itself*",
        ]
    )
    strict_failure = result.stdout.str().split("test_strict")[1].split("test_unused")[0]
    assert "_airflow_loop_decision_reason" not in strict_failure.split("XCom policy (strict) violated")[-1]


def test_a_partial_run_runs_a_loop_on_a_given_seed_and_refuses_a_given_loop_xcom(user_tests, loop_dags):
    result = user_tests(
        """
        import pytest
        from pytest_xcom import XComError
        from loop_dags import refining_dag

        def test_loop_on_a_given_seed(xcom):
            run = xcom.run(refining_dag, tasks=["refine.score", "refine.good_enough"], upstream={"seed": 20})
            run.assert_succeeded()
            run.assert_iterations("refine", 1)                         # 20 * 10 >= 100 at once
            assert run.loop("refine").values == [200]
            assert run.pushed_by("seed").get().given

        def test_given_loop_xcom(xcom):
            with pytest.raises(XComError) as caught:
                xcom.run(refining_dag, tasks=["publish"], upstream={"refine.score": [1]})
            print("REFUSED", caught.value)
        """,
        "-s",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*REFUSED upstream Given('refine.score'): task 'refine.score' runs inside task loop 'refine', where each "
         "iteration pushes its own XCom*"]
    )


def test_snapshots_record_iterations_and_the_loop(user_tests, loop_dags, pytester):
    result = user_tests(
        """
        from loop_dags import refining_dag

        def test_snapshot(xcom, xcom_snapshot):
            xcom_snapshot.assert_match(xcom.run(refining_dag))
        """,
        "--xcom-snapshot-update",
    )
    result.assert_outcomes(passed=1)
    (snapshot,) = pytester.path.glob("__xcom_snapshots__/**/*.json")
    text = snapshot.read_text()
    assert '"-1@1"' in text and '"stopped_by": "until"' in text and '"refine.score@1"' in text, text
