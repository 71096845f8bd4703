"""freeze_time: task code sees the frozen clock whatever its module is called; Airflow keeps the real one."""

import datetime
import time
from collections import Counter, OrderedDict, defaultdict, namedtuple

import freezegun
import pytest
from freezegun import api as freezegun_api
from pytest_xcom._airflow.clock import as_real_time, frozen_clock

CLOCK_DAG = """
import time
from datetime import date, datetime

from airflow_compat import dag, task

@dag(schedule=None)
def {dag_id}():
    @task
    def now():
        return {{"now": datetime.now().isoformat(), "today": date.today().isoformat(), "time": time.time()}}

    now()

{dag_id}_dag = {dag_id}()
"""

FROZEN = {"now": "2030-05-17T08:30:00", "today": "2030-05-17", "time": 1905237000.0}


def test_a_dag_in_an_airflow_dags_package_is_frozen(user_tests, pytester):
    """freezegun's ignore list matches by prefix: "airflow" used to ignore airflow_dags.* too."""
    pytester.mkpydir("airflow_dags")
    pytester.path.joinpath("airflow_dags", "clock.py").write_text(CLOCK_DAG.format(dag_id="clock"))
    result = user_tests(
        """
        import datetime
        from airflow_compat import AIRFLOW2
        from airflow_dags.clock import clock_dag

        def test_frozen(xcom, xcom_db):
            started = datetime.datetime.now(datetime.timezone.utc)
            run = xcom.run(clock_dag, freeze_time="2030-05-17T08:30:00+00:00")
            run.assert_succeeded()
            assert run.value("now") == {"now": "2030-05-17T08:30:00", "today": "2030-05-17", "time": 1905237000.0}
            # Airflow's machinery kept the real clock
            assert run.logical_date == datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
            assert run.run_id == "manual__2026-01-01T00:00:00+00:00"
            assert run.task_states == {"now": "success"}
            from airflow.models.taskinstance import TaskInstance
            with xcom_db.session() as session:
                ti = session.query(TaskInstance).filter_by(dag_id="clock", task_id="now").one()
                assert started - datetime.timedelta(minutes=1) < ti.end_date
                assert ti.end_date < datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
                # Airflow 2's dag.test() runs the task without setting its start_date
                assert ti.start_date is None if AIRFLOW2 else started - datetime.timedelta(minutes=1) < ti.start_date <= ti.end_date

        def test_real_clock_without_freeze_time(xcom):
            run = xcom.run(clock_dag)
            assert run.value("now")["today"] == datetime.date.today().isoformat()
        """,
    )
    result.assert_outcomes(passed=2)


def test_a_dag_file_loaded_by_load_dag_is_frozen(user_tests, pytester):
    """load_dag names the module pytest_xcom_dagfile_<hash>: "pytest_xcom" used to ignore it."""
    pytester.mkdir("elsewhere")
    pytester.path.joinpath("elsewhere", "clock_file.py").write_text(CLOCK_DAG.format(dag_id="clock_file"))
    result = user_tests(
        """
        def test_frozen(xcom):
            dag = xcom.load_dag("elsewhere/clock_file.py")
            run = xcom.run(dag, logical_date="2030-05-17T08:30:00", freeze_time=True)
            run.assert_succeeded()
            assert run.value("now") == {"now": "2030-05-17T08:30:00", "today": "2030-05-17", "time": 1905237000.0}
        """,
    )
    result.assert_outcomes(passed=1)


def test_a_task_may_push_the_frozen_datetime_itself(user_tests):
    """Under freezegun datetime.now() is a FakeDatetime; production pushes a real datetime."""
    result = user_tests(
        """
        import datetime
        from datetime import date, timezone
        from airflow_compat import AIRFLOW2, dag, task

        @dag(schedule=None)
        def stamps():
            @task
            def stamp():
                return datetime.datetime.now(timezone.utc)

            @task
            def nested():
                now = datetime.datetime.now()
                return {"when": now, "day": date.today(), "history": [now, (now, date.today())]}

            @task
            def explicit(**context):  # pushed while the clock is still frozen
                context["ti"].xcom_push(key="at", value={"at": datetime.datetime.now(timezone.utc)})

            @task
            def read(when, record):
                return [type(when).__name__, type(record["day"]).__name__, when.isoformat()]

            read(stamp(), nested())
            explicit()

        stamps_dag = stamps()

        def test_pushed_values_are_real_datetimes(xcom):
            run = xcom.run(stamps_dag, freeze_time="2030-05-17T08:30:00+00:00")
            run.assert_succeeded()
            moment = datetime.datetime(2030, 5, 17, 8, 30, tzinfo=timezone.utc)
            stamp = run.pushed_by("stamp").get()
            assert stamp.pushed == moment == stamp.value
            assert type(stamp.pushed) is datetime.datetime
            naive = moment.replace(tzinfo=None)
            record = run.value("nested")
            # Airflow 2's JSON encoder writes a tuple inside a list as a JSON array: it comes back a list
            pair = [naive, date(2030, 5, 17)] if AIRFLOW2 else (naive, date(2030, 5, 17))
            assert record == {"when": naive, "day": date(2030, 5, 17), "history": [naive, pair]}
            assert type(record["when"]) is datetime.datetime and type(record["day"]) is date
            assert run.value("read") == ["datetime", "date", "2030-05-17T08:30:00+00:00"]
            at = run.pushed_by("explicit").get("at")
            assert at.pushed == {"at": moment} == at.value
            assert type(at.pushed["at"]) is datetime.datetime
        """,
    )
    result.assert_outcomes(passed=1)


# -- the clock itself, in this process ----------------------------------------------------------


def _caller_named(name: str):
    """A function whose module (as freezegun sees it: its globals' __name__) is ``name``."""
    namespace = {"__name__": name, "time": time}
    exec("def read():\n    return time.time()\n", namespace)
    return namespace["read"]


@pytest.mark.parametrize(
    ("module", "frozen"),
    [
        ("airflow", False),
        ("airflow.sdk.execution_time.task_runner", False),
        ("pytest_xcom.recording.recorder", False),
        ("airflow_dags.sales", True),
        ("airflowish", True),
        ("pytest_xcom_dagfile_0123456789ab", True),
        ("pydantic_settings.main", False),
        ("gis_dags.maps", True),  # freezegun's own default list has "gi" (PyGObject)
        ("gi.repository", False),
        ("user_dag", True),
    ],
)
def test_machinery_is_matched_on_module_boundaries(module, frozen):
    read = _caller_named(module)
    with frozen_clock(datetime.datetime(2030, 5, 17, 8, 30)):
        seen = read()
    assert (seen == 1905237000.0) is frozen


def test_freezegun_is_restored_after_the_freeze():
    original = freezegun_api._should_use_real_time
    limit = freezegun_api.call_stack_inspection_limit
    with frozen_clock(datetime.datetime(2030, 5, 17, 8, 30)):
        assert freezegun_api._should_use_real_time is not original
    assert freezegun_api._should_use_real_time is original
    assert freezegun_api.call_stack_inspection_limit == limit
    assert datetime.datetime is freezegun_api.real_datetime
    with pytest.raises(RuntimeError), frozen_clock(datetime.datetime(2030, 5, 17, 8, 30)):
        raise RuntimeError("task failed")
    assert freezegun_api._should_use_real_time is original
    assert freezegun_api.call_stack_inspection_limit == limit


def test_as_real_time_replaces_fakes_everywhere():
    with freezegun.freeze_time("2030-05-17T08:30:00"):
        now = datetime.datetime.now(datetime.timezone.utc)
        today = datetime.date.today()
        value = {
            "now": now,
            now: "as a key",
            "nested": [now, (today, {now}), frozenset({today})],
            "plain": [1, "two", None],
        }
        real = as_real_time(value)
        # even while frozen, the replacements are real classes
        assert type(real["now"]) is freezegun_api.real_datetime
    assert type(now) is freezegun_api.FakeDatetime and type(today) is freezegun_api.FakeDate
    moment = datetime.datetime(2030, 5, 17, 8, 30, tzinfo=datetime.timezone.utc)
    day = datetime.date(2030, 5, 17)
    assert real == {
        "now": moment,
        moment: "as a key",
        "nested": [moment, (day, {moment}), frozenset({day})],
        "plain": [1, "two", None],
    }
    assert real["now"].tzinfo is now.tzinfo
    assert type(real["now"]) is datetime.datetime
    assert {type(k) for k in real if not isinstance(k, str)} == {datetime.datetime}
    nested = real["nested"]
    assert type(nested[1]) is tuple and type(nested[1][0]) is datetime.date
    assert type(next(iter(nested[1][1]))) is datetime.datetime
    assert type(nested[2]) is frozenset and type(next(iter(nested[2]))) is datetime.date
    assert real["plain"] is value["plain"]  # untouched branches are not copied


def test_as_real_time_returns_the_same_object_when_there_is_nothing_to_replace():
    real_now = datetime.datetime(2030, 5, 17, 8, 30)
    values = [
        {"a": [1, 2, {"b": (3, real_now)}], "c": {4, 5}},
        [datetime.date(2030, 5, 17)],
        real_now,
        "text",
        None,
        OrderedDict(a=1),
    ]
    with freezegun.freeze_time("2030-05-17"):
        for value in values:
            assert as_real_time(value) is value
    for value in values:
        assert as_real_time(value) is value


Span = namedtuple("Span", "start days")


def test_as_real_time_keeps_container_types_and_survives_cycles():
    with freezegun.freeze_time("2030-05-17"):
        today = datetime.date.today()
    ordered = as_real_time(OrderedDict(day=today))
    assert type(ordered) is OrderedDict and type(ordered["day"]) is datetime.date
    by_day = as_real_time(defaultdict(list, {today: [today]}))
    assert by_day.default_factory is list and by_day == {today: [today]}
    assert {type(k) for k in by_day} == {type(v) for v in by_day[today]} == {datetime.date}
    counts = as_real_time(Counter({today: 2}))
    assert type(counts) is Counter and counts == Counter({today: 2}) and type(next(iter(counts))) is datetime.date
    span = as_real_time(Span(today, 3))
    assert type(span) is Span and span == (today, 3) and type(span.start) is datetime.date
    cyclic: list = [today]
    cyclic.append(cyclic)
    converted = as_real_time(cyclic)
    assert type(converted[0]) is datetime.date
