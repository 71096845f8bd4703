"""The harness is a witness: it never changes a task's outcome, and records what readers received.

Each test here failed before the recorder measured guardedly and read values back through the
backend (issue #13 items 1-3, 8, 9).
"""

from airflow_compat import AIRFLOW2, requires_airflow3

# The snippet backends hand Airflow 3's BaseXCom a str to store; Airflow 2's row is bytes.
STR_ROW_BACKENDS = requires_airflow3("the snippet's backends store a str row, which Airflow 2's bytes column refuses")

BACKENDS = '''
import base64, json, pickle
from airflow.sdk.bases.xcom import BaseXCom


class PickleXCom(BaseXCom):
    """Pickles anything: Airflow's own serializer could not serialize these values."""

    @staticmethod
    def serialize_value(value, **kwargs):
        return base64.b64encode(pickle.dumps(value)).decode()

    @staticmethod
    def deserialize_value(result):
        return pickle.loads(base64.b64decode(result.value))


class StrXCom(BaseXCom):
    """Stores str(value) and hands that string back: readers get "2" for 2."""

    @staticmethod
    def serialize_value(value, **kwargs):
        return str(value)

    @staticmethod
    def deserialize_value(result):
        return result.value
'''

TRAIN_DAG = '''
from airflow_compat import dag, task
from models import Model


@dag(schedule=None)
def train():
    @task
    def fit():
        return Model([0.5, 1.5])

    @task
    def score(model):
        return sum(model.weights)

    score(fit())
'''

MODELS = '''
class Model:
    """A plain class: no serialize(), not registered with Airflow's serde."""

    def __init__(self, weights):
        self.weights = weights

    def __eq__(self, other):
        return isinstance(other, Model) and other.weights == self.weights
'''


@STR_ROW_BACKENDS
def test_a_value_only_the_backend_can_serialize_does_not_fail_the_task(user_tests, pytester):
    pytester.makepyfile(my_backends=BACKENDS, models=MODELS, train_dag=TRAIN_DAG)
    result = user_tests(
        """
        import pytest
        from models import Model
        from train_dag import train

        @pytest.mark.xcom_backend("my_backends.PickleXCom")
        def test_pickled(xcom):
            run = xcom.run(train())
            run.assert_succeeded()                       # as under plain dag.test()
            push = run.pushed_by("fit").get()
            assert push.size is None and "Model" in push.size_error
            assert push.value == Model([0.5, 1.5]) and push.round_trips
            assert isinstance(push.pushed, Model)
            assert run.value("score") == 2.0
            run.assert_round_trip()
            print("SIZE_ERROR", push.size_error)
            print(run.report())
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["SIZE_ERROR *Model*", "*fit *return_value*unknown*"])


OFFLOADING_BACKEND = '''
import pickle, uuid
from airflow.sdk.bases.xcom import BaseXCom

STORE = {}


class PickleStoreXCom(BaseXCom):
    """Offloads anything, pickled, to a store outside the DB; the row holds "mem://<id>"."""

    @staticmethod
    def serialize_value(value, **kwargs):
        reference = f"mem://{uuid.uuid4()}"
        STORE[reference] = pickle.dumps(value)
        return reference

    @staticmethod
    def deserialize_value(result):
        return pickle.loads(STORE[result.value])
'''


@STR_ROW_BACKENDS
def test_a_value_only_the_backend_can_serialize_is_offloaded_when_the_backend_offloads_it(user_tests, pytester):
    # Airflow's serializer refuses Model, so its payload is unknown: the row holding a reference is
    # what the backend made of it, not Airflow's serialization. It was reported inline before.
    pytester.makepyfile(store_backend=OFFLOADING_BACKEND, models=MODELS, train_dag=TRAIN_DAG)
    result = user_tests(
        """
        import pytest
        from train_dag import train

        @pytest.mark.xcom_backend("store_backend.PickleStoreXCom")
        def test_offloaded(xcom):
            run = xcom.run(train())
            run.assert_succeeded()
            push = run.pushed_by("fit").get()
            assert push.size is None and push.stored.startswith("mem://")
            assert push.offloaded
            run.assert_offloaded("fit")
            with pytest.raises(AssertionError, match="stored inline"):
                run.assert_inline("fit")
            print(run.report())
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*fit *return_value*unknown*yes*"])


def test_an_unregistered_dataclass_fails_the_reader_not_the_producer(user_tests):
    result = user_tests(
        """
        import dataclasses
        from airflow_compat import dag, task

        @dataclasses.dataclass
        class Point:
            x: int
            y: int

        @dag(schedule=None)
        def points():
            @task
            def make():
                return Point(1, 2)

            @task
            def use(point):
                return point.x

            use(make())

        def test_points(xcom):
            run = xcom.run(points())
            print("STATES", run.task_states["make"], run.task_states["use"])
            push = run.pushed_by("make").get()
            print("PUSHED", type(push.pushed).__name__, "SIZE", push.size)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    # Airflow's serde writes the dataclass; reading it back needs allowed_deserialization_classes.
    result.stdout.fnmatch_lines(["STATES success failed", "PUSHED Point SIZE *"])


@STR_ROW_BACKENDS
def test_value_is_what_readers_received_and_round_trip_says_so(user_tests, pytester):
    pytester.makepyfile(my_backends=BACKENDS)
    result = user_tests(
        """
        import pytest
        from airflow_compat import dag, task

        @dag(schedule=None)
        def counts():
            @task
            def count():
                return 2

            @task
            def double(n):
                return n * 2          # "2" * 2 == "22" under StrXCom

            double(count())

        @pytest.mark.xcom_backend("my_backends.StrXCom")
        def test_str_backend(xcom):
            run = xcom.run(counts())
            run.assert_succeeded()
            push = run.pushed_by("count").get()
            assert (push.pushed, push.value, push.round_trips) == (2, "2", False)
            assert run.value("count") == "2"
            assert run.value("double") == "22"
            run.assert_round_trip(task_id="count")
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*1 XCom(s) of DAG 'counts' do not reach their readers as pushed (backend 'my_backends.StrXCom'):",
            "E*count key 'return_value':",
            "E*pushed:   2 (int)",
            "E*received: '2' (str)",
            "E*deserialize_value*must hand back the value itself*",
        ]
    )


RETRY_DAG = """
from datetime import timedelta
from airflow_compat import dag, task

@dag(schedule=None)
def flaky_flow():
    @task(retries=1, retry_delay=timedelta(0))
    def flaky(ti=None):
        ti.xcom_push(key="staged", value={"attempt": ti.try_number})
        if ti.try_number == 1:
            raise RuntimeError("first attempt fails")
        return "done"

    @task
    def read(ti=None):
        return ti.xcom_pull(task_ids="flaky", key="staged")

    flaky() >> read()

flaky_dag = flaky_flow()
"""


def test_a_retry_keeps_the_xcom_of_the_attempt_that_stands(user_tests, pytester):
    pytester.makepyfile(flaky_dag=RETRY_DAG)
    result = user_tests(
        """
        from flaky_dag import flaky_dag

        def test_retry(xcom, xcom_snapshot):
            run = xcom.run(flaky_dag)
            run.assert_succeeded()
            assert run.value("flaky", "staged") == {"attempt": 2}
            assert run.value("read") == {"attempt": 2}
            assert run.pushed_by("flaky").keys == {"staged", "return_value"}
            history = run.history("flaky", "staged")
            print("HISTORY", [(type(e).__name__, e.try_number) for e in history])
            assert [p.try_number for p in run.pushes if p.key == "staged"] == [1, 2]
            assert "staged" in run.manifest()["xcoms"]["flaky"]["-1"]
            run.assert_no_unused(ignore=["read", ("flaky", "return_value")])
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    if _keeps_xcoms_per_attempt():  # Airflow 3.4: the first attempt keeps its XCom; nothing is deleted
        result.stdout.fnmatch_lines(["HISTORY [('XComPush', 1), ('XComPush', 2)]"])
    else:  # before: the second attempt starts by deleting the first attempt's XComs
        result.stdout.fnmatch_lines(["HISTORY [('XComPush', 1), ('XComDelete', 2), ('XComPush', 2)]"])


def _keeps_xcoms_per_attempt() -> bool:
    from pytest_xcom import _airflow

    return _airflow.keeps_xcoms_per_attempt()


def test_an_earlier_attempts_xcom_that_the_retry_does_not_push_again_stands_no_more(user_tests):
    # Before Airflow 3.4 the retry deletes it; from 3.4 it stays with the first attempt, which
    # readers no longer see. Either way a reader gets nothing, and the record says so.
    result = user_tests(
        """
        from datetime import timedelta
        from airflow_compat import dag, task

        @dag(schedule=None)
        def partial_flow():
            @task(retries=1, retry_delay=timedelta(0))
            def flaky(ti=None):
                if ti.try_number == 1:
                    ti.xcom_push(key="partial", value="from the failed attempt")
                    raise RuntimeError("first attempt fails")
                return "done"

            @task
            def read(ti=None):
                return repr(ti.xcom_pull(task_ids="flaky", key="partial"))

            flaky() >> read()

        partial_dag = partial_flow()

        def test_retry(xcom):
            run = xcom.run(partial_dag)
            run.assert_succeeded()
            assert run.value("read") == "None"
            assert run.pushed_by("flaky").keys == {"return_value"}
            (pull,) = run.pulled_by("read")
            assert not pull.found
            run.assert_not_pushed("flaky", "partial")
            print("HISTORY", [(type(e).__name__, e.try_number) for e in run.history("flaky", "partial")])
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    if _keeps_xcoms_per_attempt():
        result.stdout.fnmatch_lines(["HISTORY [('XComPush', 1)]"])
    else:
        result.stdout.fnmatch_lines(["HISTORY [('XComPush', 1), ('XComDelete', 2)]"])


BRANCH_DAG = """
from airflow_compat import dag, task

@dag(schedule=None)
def branching():
    @task.branch
    def choose():
        return "left"

    @task
    def left():
        return None

    @task
    def right():
        return None

    @task(multiple_outputs=True)
    def stats():
        return {"rows": 3}

    @task
    def use(rows):
        return None

    choose() >> [left(), right()]
    use(stats()["rows"])

branch_dag = branching()
"""


def test_strict_does_not_blame_users_for_xcoms_airflow_pushes_itself(user_tests, pytester):
    pytester.makepyfile(branch_dag=BRANCH_DAG)
    result = user_tests(
        """
        from branch_dag import branch_dag

        def test_strict(xcom):
            run = xcom.run(branch_dag)
            run.assert_succeeded()
            print("AIRFLOW_XCOMS", sorted(run.airflow_xcoms))
            print("PUSHED", sorted((p.task_id, p.key) for p in run.effective_pushes()))
        """,
        "-s",
        "--xcom-strict",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["AIRFLOW_XCOMS [('choose', 'return_value'), ('choose', 'skipmixin_key'), ('stats', 'return_value')]"]
    )


BRANCH_RETURN = "('choose', 'return_value'), " if AIRFLOW2 else ""


def test_assert_no_unused_still_names_airflow_xcoms_and_says_strict_exempts_them(user_tests, pytester):
    pytester.makepyfile(branch_dag=BRANCH_DAG)
    result = user_tests(
        """
        from branch_dag import branch_dag

        def test_unused(xcom):
            xcom.run(branch_dag).assert_no_unused()
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        # On Airflow 2 nobody reads the branch's decision (its return value) either
        [f"E*Of these, Airflow pushes {BRANCH_RETURN}('choose', 'skipmixin_key'), ('stats', 'return_value') itself*"
         "--xcom-strict exempts them."]
    )


def test_a_read_of_another_dag_records_where_it_read_and_is_no_read_of_this_run(user_tests):
    result = user_tests(
        """
        from airflow_compat import dag, task

        @dag(schedule=None)
        def reader():
            @task
            def produce():
                return 1

            @task
            def peek(ti=None):
                return ti.xcom_pull(task_ids="produce", dag_id="some_other_dag", include_prior_dates=True)

            produce() >> peek()

        def test_cross_dag(xcom):
            run = xcom.run(reader())
            run.assert_succeeded()
            pull = run.pulled_by("peek")[0]
            print("PULL", pull.source_dag_id, pull.include_prior_dates, pull.found)
            assert run.consumers("produce") == set()
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["PULL some_other_dag True False"])


TRIGGER_DAG = '''
from airflow_compat import BaseOperator, dag, task
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent


class Ready(BaseTrigger):
    def serialize(self):
        return ("trigger_dag.Ready", {})

    async def run(self):
        yield TaskSuccessEvent(xcoms={"signal": {"rows": 3}})


class WaitForSignal(BaseOperator):
    def execute(self, context):
        self.defer(trigger=Ready(), method_name="done")

    def done(self, context, event=None):
        return "resumed"


@dag(schedule=None)
def deferred():
    @task
    def read(ti=None):
        return ti.xcom_pull(task_ids="wait", key="signal")

    WaitForSignal(task_id="wait") >> read()

deferred_dag = deferred()
'''


@requires_airflow3("Airflow 2's TriggerEvent carries no XComs")
def test_xcoms_of_a_trigger_event_are_recorded_as_airflow_handles_them(user_tests, pytester):
    """dag.test() runs the trigger inline and pushes none of its event's XComs (a triggerer would):
    the record says so instead of inventing a push no reader could find."""
    pytester.makepyfile(trigger_dag=TRIGGER_DAG)
    result = user_tests(
        """
        from trigger_dag import deferred_dag

        def test_trigger(xcom):
            run = xcom.run(deferred_dag)
            run.assert_succeeded()
            [event] = run.trigger_xcoms
            print("TRIGGER", event.task_id, event.trigger, event.xcoms, event.pushed)
            assert run.pushed_by("wait").keys == {"return_value"}
            assert [p.found for p in run.pulled_by("read")] == [False]   # nothing to find, as in Airflow
            print(run.report())
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "TRIGGER wait trigger_dag.Ready {'signal': {'rows': 3}} False",
            "*note: the trigger of wait carried XCom(s) 'signal', which dag.test() does not push (a triggerer would)",
        ]
    )
