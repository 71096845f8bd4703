"""The Airflow-version shims that can be checked without running a DAG."""

from importlib import metadata

from pytest_xcom import _airflow
from pytest_xcom._airflow import versions


def test_a_known_broken_dependency_is_named_with_its_fix(monkeypatch):
    real_version = metadata.version
    monkeypatch.setattr(versions, "airflow_version", lambda: "3.2.2")
    monkeypatch.setattr(
        versions.metadata, "version", lambda name: "0.165.0" if name == "fastapi" else real_version(name)
    )
    assert _airflow.dependency_problems() == [
        "apache-airflow 3.2.2 does not run tasks with fastapi 0.165.0: pip install 'fastapi<0.156.1'"
    ]


def test_universal_pathlib_0_3_is_named_on_airflow_2_10_only(monkeypatch):
    real_version = metadata.version
    fake = {"universal-pathlib": "0.3.10", "fastapi": "0.100.0"}
    monkeypatch.setattr(versions.metadata, "version", lambda name: fake.get(name) or real_version(name))
    monkeypatch.setattr(versions, "airflow_version", lambda: "2.10.5")
    assert _airflow.dependency_problems() == [
        "apache-airflow 2.10.5 does not run the object-storage (s3) XCom backend with universal-pathlib 0.3.10: "
        "pip install 'universal-pathlib<0.3'"
    ]
    monkeypatch.setattr(versions, "airflow_version", lambda: "2.11.2")  # 2.11 caps it itself
    assert _airflow.dependency_problems() == [], "2.11.2 warned about universal-pathlib, which it caps itself"


def test_a_working_dependency_set_gives_no_warning(monkeypatch):
    real_version = metadata.version
    # the last FastAPI release each of these Airflow releases was seen to work with
    for airflow, fastapi in {"3.0.6": "0.117.1", "3.2.2": "0.156.0"}.items():
        monkeypatch.setattr(versions, "airflow_version", lambda airflow=airflow: airflow)
        monkeypatch.setattr(
            versions.metadata,
            "version",
            lambda name, fastapi=fastapi: fastapi if name == "fastapi" else real_version(name),
        )
        assert _airflow.dependency_problems() == [], airflow


def test_a_single_mapped_group_result_collapses_only_where_airflow_does(monkeypatch):
    expected = {"3.0.6": False, "3.1.8": False, "3.2.0": True, "3.2.2": True, "3.3.2": True, "3.3.3": False}
    for version, collapses in expected.items():
        monkeypatch.setattr(versions, "airflow_version", lambda version=version: version)
        assert _airflow.collapses_single_group_expansion() is collapses, version


def test_a_bare_none_push_is_recorded_as_this_airflow_handles_it(user_tests):
    """Airflow 3.0's execution API refuses ``xcom_push(key, None)``; later releases store it."""
    result = user_tests(
        """
        from airflow_compat import dag, task

        @dag(schedule=None)
        def nones():
            @task
            def push(ti=None):
                ti.xcom_push(key="nothing", value=None)
            push()

        def test_case(xcom):
            run = xcom.run(nones())
            print("STATE", run.task_states["push"])
            print("PUSHED", ", ".join(f"{p.key}={p.value!r}" for p in run.pushes) or "nothing")
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    if _airflow.pushes_none():
        result.stdout.fnmatch_lines(["*STATE success", "*PUSHED nothing=None"])
    else:
        result.stdout.fnmatch_lines(["*STATE failed", "*PUSHED nothing"])
