"""The Airflow-version shims that can be checked without running a DAG."""

from importlib import metadata

from pytest_xcom import _airflow
from pytest_xcom._airflow import versions

from airflow_compat import requires_airflow3


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


def test_the_asgi_bridge_is_off_unless_asked_for_and_only_serves_airflow_3_3_on(monkeypatch):
    expected = {"3.0.6": False, "3.1.8": False, "3.2.2": False, "3.3.0": True, "3.3.2": True, "3.4.0b2": True}
    monkeypatch.delenv("PYTEST_XCOM_ASGI_BRIDGE", raising=False)
    for version, bridged in expected.items():
        monkeypatch.setattr(versions, "airflow_version", lambda version=version: version)
        assert _airflow.bridges_execution_api() is False, (
            f"Airflow {version}: the ASGI bridge must be off by default (it lets non-ASCII keys through "
            "where Airflow 3.3.2's own transport fails the task)"
        )
        monkeypatch.setenv("PYTEST_XCOM_ASGI_BRIDGE", "1")
        assert _airflow.bridges_execution_api() is bridged, (
            f"Airflow {version}: with PYTEST_XCOM_ASGI_BRIDGE=1 the bridge should be {'on' if bridged else 'off'} "
            "(checked by the fidelity suite on 3.3 only; extend bridges_execution_api() once another release passes it)"
        )
        monkeypatch.delenv("PYTEST_XCOM_ASGI_BRIDGE")


@requires_airflow3("the ASGI bridge serves Airflow 3's in-process execution API; Airflow 2 has none")
def test_a_run_records_the_same_with_and_without_the_asgi_bridge(user_tests):
    """What tasks receive from the execution API (pushes, pulls, a failure, a mapped read) must not
    depend on how requests reach it; the differential suite checks the rows against plain dag.test()."""
    result = user_tests(
        """
        import json
        from airflow.sdk import dag, task
        from pytest_xcom._airflow.asgi_bridge import bridged as asgi_bridge, no_bridge

        @dag(schedule=None)
        def traffic():
            @task
            def extract(ti=None):
                ti.xcom_push(key="count", value=3)
                return [1, 2, 3]

            @task
            def double(x):
                return 2 * x

            @task
            def total(values, ti=None):
                ti.xcom_push(key="seen", value=ti.xcom_pull(task_ids="extract", key="count"))
                return sum(values)

            @task
            def broken():
                raise ValueError("boom")

            @task
            def inside_a_loop(ti=None):
                # async task code (a trigger, asyncio.run in a task) calling the sync API client
                import asyncio

                async def pull():
                    return ti.xcom_pull(task_ids="extract", key="count")

                return asyncio.run(pull())

            rows = extract()
            total(double.expand(x=rows))
            rows >> inside_a_loop()
            broken()

        def record(run):
            return json.dumps(
                {"manifest": run.manifest(), "states": run.task_states, "pulls": len(run.pulls),
                 "failures": sorted(run.failures)},
                sort_keys=True,
            )

        def test_case(xcom):
            with asgi_bridge():
                bridged = xcom.run(traffic())
            with no_bridge():
                plain = xcom.run(traffic(), logical_date="2026-01-02")
            assert bridged.value("total") == 12 and bridged.value("total", "seen") == 3, bridged.report()
            assert bridged.value("inside_a_loop") == 3, bridged.report()
            assert "boom" in bridged.failures["broken"], bridged.failures
            assert record(bridged) == record(plain), f"bridged: {record(bridged)}\\nWSGI:    {record(plain)}"
            print("SAME RECORD", bridged.state, sorted(bridged.task_states))
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SAME RECORD failed ?'broken', 'double', 'extract', 'inside_a_loop', 'total'?"])


def _openapi_by_version(app):
    from fastapi.openapi.utils import get_openapi

    return {
        str(version): get_openapi(title="x", version="x", routes=router.routes)
        for version, router in dict.items(app.router.versioned_routers)
    }


@requires_airflow3("Airflow 2 has no execution API")
def test_the_execution_api_serves_every_version_as_airflow_builds_it(monkeypatch, xcom):
    """The harness's app generates the newest API version's routes first and the others when a
    request asks for one: each version must end up exactly as Airflow's own app serves it."""
    from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
    from pytest_xcom._airflow.api_versions import EAGER_ENV, builds_newest_version_first
    from pytest_xcom._airflow.asgi_bridge import http_library  # httpx, or httpx2 from Airflow 3.4

    http = http_library()

    monkeypatch.delenv(EAGER_ENV, raising=False)
    ours, airflows = InProcessExecutionAPI(), InProcessExecutionAPI()
    assert builds_newest_version_first(ours.app), "the lever should apply to Airflow's execution API app"
    assert not builds_newest_version_first(ours.app), "a second call must not wrap the app again"
    versions = [str(v.value) for v in ours.app.versions.versions]
    newest, oldest = versions[0], versions[-1]

    def served(api, version, path):
        client = http.Client(transport=api.transport, base_url="http://in-process.invalid")
        response = client.get(path, headers={"Airflow-API-Version": version})
        return response.status_code, response.text

    assert served(ours, newest, "/health") == served(airflows, newest, "/health")
    # Through the app's dependency overrides (Airflow's in-process auth bypass) to the DB and back.
    assert served(ours, newest, "/variables/no_such_variable") == served(airflows, newest, "/variables/no_such_variable")
    assert served(ours, newest, "/variables/no_such_variable")[0] == 404
    built = {str(v) for v, router in dict.items(ours.app.router.versioned_routers) if router.routes}
    assert built == {newest}, f"only the newest version should be generated so far, found {sorted(built)}"
    assert _openapi_by_version(ours.app)[newest] == _openapi_by_version(airflows.app)[newest]

    # A route Airflow keeps for older clients only: the older version's request builds them all.
    old_route = "/dag-runs/some_dag/previous"
    assert served(ours, oldest, old_route) == served(airflows, oldest, old_route)
    assert _openapi_by_version(ours.app) == _openapi_by_version(airflows.app), (
        "after a request of an older version every version must be served as Airflow builds it"
    )


@requires_airflow3("Airflow 2 has no execution API")
def test_eager_api_versions_keeps_airflows_own_build(monkeypatch):
    from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
    from pytest_xcom._airflow.api_versions import EAGER_ENV, builds_newest_version_first

    monkeypatch.setenv(EAGER_ENV, "1")
    app = InProcessExecutionAPI().app
    assert not builds_newest_version_first(app)
    assert "_cadwyn_initialize" not in vars(app), "with the switch on, Cadwyn's own initialization must stay"


def test_the_schema_fingerprint_names_what_a_full_metadata_scan_finds():
    """The template cache key skips distributions by their directory name; it must still find every
    Airflow distribution and SQLAlchemy that reading each distribution's metadata finds."""
    slow = set()
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("apache-airflow") or name == "sqlalchemy":
            slow.add(f"{name}=={dist.version}")
    assert versions.schema_fingerprint() == ";".join(sorted(slow))
    assert any(part.startswith("sqlalchemy==") for part in slow), slow
