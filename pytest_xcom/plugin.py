"""pytest hooks: options, markers, isolation before Airflow is imported, policy, terminal."""

from __future__ import annotations

from pytest_xcom import gc_tuning

gc_tuning.defer_collections()  # first: Airflow's imports below and the first run are the cold start

import sys
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from pytest_xcom import __version__, _airflow
from pytest_xcom.checks.policy import Policy, checked_size, parse_strict
from pytest_xcom.errors import BackendError, DatabaseServerError, IsolationError, PolicyError
from pytest_xcom.fixtures import (  # noqa: F401  (the plugin's fixtures)
    HARNESS,
    xcom,
    xcom_azure,
    xcom_azurite,
    xcom_db,
    xcom_gcs,
    xcom_gcs_emulator,
    xcom_metadata_db,
    xcom_moto_server,
    xcom_redis,
    xcom_s3,
    xcom_services,
    xcom_snapshot,
)
from pytest_xcom.isolation import env
from pytest_xcom.isolation.backends import BackendChoice
from pytest_xcom.isolation.db import CacheDirError, check_cache_dir
from pytest_xcom.options import (
    AIRFLOW_LOGS,
    ISOLATION,
    SUITE_BACKEND,
    SUITE_POLICY,
    marker_error,
    option,
    parse_airflow_logs,
)
from pytest_xcom.recording.restore import body_state_restored
from pytest_xcom.reporting import ci, terminal
from pytest_xcom.reporting.collector import RUNS_ATTRIBUTE, XComReporter
from pytest_xcom.repository import plugin as repository
from pytest_xcom.snapshots.assertion import PLUGIN_NAME as SNAPSHOT_PLUGIN
from pytest_xcom.snapshots.session import SnapshotPlugin
from pytest_xcom.tracebacks import hide_harness_frames


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_xcom.repository import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xcom", "pytest-xcom: test the XCom traffic of Airflow DAGs")

    def add(option: str, ini: str, help: str, **kwargs: Any) -> None:
        group.addoption(option, dest=ini, help=f"{help} (ini: {ini})", **kwargs)
        parser.addini(ini, help=help, type="string")  # parsed by pytest-xcom: errors name the option

    add(
        "--xcom-backend",
        "xcom_backend",
        "default XCom backend of every run: db (default), s3, or the dotted path of a BaseXCom subclass",
        metavar="NAME",
    )
    add(
        "--xcom-max-size",
        "xcom_max_size",
        "every DAG run must keep each XCom within SIZE "
        "(bytes, '48KB', '64KiB' or a preset: airflow, mysql, postgres, sqlite)",
        metavar="SIZE",
    )
    add(
        "--xcom-strict",
        "xcom_strict",
        "every DAG run must push only plain-JSON values, read every "
        "XCom it pushes and name task_ids in every xcom_pull",
        action="store_true",
        default=None,
    )
    add("--xcom-report", "xcom_report", "write an HTML report of every DAG run to PATH", metavar="PATH")
    add(
        "--xcom-db",
        "xcom_db",
        "run on a real PostgreSQL or MySQL server instead of the embedded "
        "in-memory SQLite: pytest-xcom creates a database of its own there and drops it at the end",
        metavar="URL",
    )
    add(
        "--xcom-redis-url",
        "xcom_redis_url",
        "parity run: Redis clients reach this real server instead of fakeredis (keys a test adds are removed after it)",
        metavar="URL",
    )
    add(
        "--xcom-s3-endpoint",
        "xcom_s3_endpoint",
        "parity run: AWS SDKs reach this S3-compatible "
        "endpoint, with the environment's own credentials, instead of the moto mock",
        metavar="URL",
    )
    add(
        "--xcom-gcs-endpoint",
        "xcom_gcs_endpoint",
        "parity run: Google Cloud Storage clients reach this GCS-compatible endpoint "
        "(STORAGE_EMULATOR_HOST, anonymous) instead of the embedded emulator",
        metavar="URL",
    )
    add(
        "--xcom-azure-connection-string",
        "xcom_azure_connection_string",
        "parity run: Azure Blob Storage clients and wasb_default use this connection string (a real account "
        "or a separately started Azurite) instead of the Azurite the harness starts",
        metavar="STRING",
    )
    group.addoption(
        "--xcom-dags",
        action="append",
        dest="xcom_dags",
        metavar="PATH",
        help="whole-repository mode: collect every DAG file Airflow would parse under PATH (repeatable): "
        "an item PATH/file.py::import, and one item per DAG that runs it and compares its snapshot (ini: xcom_dags)",
    )
    parser.addini(
        "xcom_dags",
        type="paths",
        help="DAG folders for whole-repository mode, separated by spaces or lines (see --xcom-dags)",
    )
    add(
        "--xcom-dags-snapshots",
        "xcom_dags_snapshots",
        "where whole-repository mode keeps its DAG snapshots, relative to the rootdir "
        "(default: __xcom_snapshots__/dags)",
        metavar="DIR",
    )
    add(
        "--xcom-airflow-logs",
        "xcom_airflow_logs",
        "what of Airflow's own log a failing test shows: failed (default: the log of each failed task "
        "instance, in a report section of its own), all (every line of the run), none",
        metavar="{failed,all,none}",
    )
    add(
        "--xcom-snapshot-update",
        "xcom_snapshot_update",
        "write missing and rewrite changed XCom snapshots instead of failing, and delete unused ones",
        action="store_true",
        default=None,
    )


# The session whose isolation was made before its pytest_configure: pytest never unconfigures a
# session that fails in between (a conftest that does not import, an unknown option), so the next
# session of this process (a second pytest.main(), a notebook) releases it first.
_unconfigured: pytest.Config | None = None


def _isolate(config: pytest.Config) -> None:
    global _unconfigured
    if ISOLATION in config.stash:
        return
    if _unconfigured is not None and _unconfigured is not config:
        _release(_unconfigured)
    _unconfigured = None
    try:
        iso = env.isolate(server_url=option(config, "xcom_db") or None)
    except (IsolationError, DatabaseServerError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[ISOLATION] = iso
    _unconfigured = config
    if iso.depth == 1 and iso.embedded:
        try:
            check_cache_dir()
        except CacheDirError as exc:
            _release(config)
            raise pytest.UsageError(str(exc)) from None


def _release(config: pytest.Config) -> None:
    global _unconfigured
    if _unconfigured is config:
        _unconfigured = None
    iso: env.IsolatedAirflow | None = config.stash.get(ISOLATION, None)
    if iso is not None:
        del config.stash[ISOLATION]
        env.release(iso)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Any:
    # Runs before any conftest.py is imported, so conftests and test modules that import
    # airflow at the top already see the isolated configuration.
    _isolate(early_config)
    try:
        return (yield)
    except BaseException:
        _release(early_config)  # a conftest failed to import: pytest will not unconfigure
        raise


def pytest_configure(config: pytest.Config) -> None:
    global _unconfigured
    _isolate(config)  # the plugin may have been registered after the initial conftests
    if _unconfigured is config:
        _unconfigured = None
    config.addinivalue_line(
        "markers",
        "xcom_backend(name, **options): the XCom backend of this test, class or module: 'db', 's3', "
        "'gcs', 'azure' (options threshold, compression, bucket, prefix) or a dotted BaseXCom subclass path",
    )
    config.addinivalue_line(
        "markers",
        "xcom_policy(max_size=None, strict=None): override --xcom-max-size / --xcom-strict "
        "for this test, class or module",
    )
    try:
        config.stash[SUITE_POLICY] = Policy(
            max_size=checked_size(option(config, "xcom_max_size"), "--xcom-max-size / xcom_max_size"),
            strict=parse_strict(option(config, "xcom_strict") or False, "--xcom-strict / xcom_strict"),
        )
        config.stash[SUITE_BACKEND] = BackendChoice(option(config, "xcom_backend") or "db")
        config.stash[AIRFLOW_LOGS] = parse_airflow_logs(option(config, "xcom_airflow_logs"))
        update = parse_strict(
            option(config, "xcom_snapshot_update") or False, "--xcom-snapshot-update / xcom_snapshot_update"
        )
    except (PolicyError, BackendError) as exc:
        raise pytest.UsageError(str(exc)) from None
    report = option(config, "xcom_report") or None
    report_path = terminal.report_path(report) if report else None
    problem = terminal.report_path_problem(report_path) if report_path else None
    if problem and not hasattr(config, "workerinput"):  # xdist workers do not write it
        raise pytest.UsageError(f"--xcom-report / xcom_report: {problem}")
    config.pluginmanager.register(XComReporter(config, report_path), "xcom-reporter")
    config.pluginmanager.register(SnapshotPlugin(config, update=update), SNAPSHOT_PLUGIN)
    folders, from_command_line = repository.dag_folders(config)
    if folders:
        config.pluginmanager.register(
            repository.DagRepositoryPlugin(config, folders, from_command_line=from_command_line), repository.PLUGIN_NAME
        )


MARKER_ERROR = pytest.StashKey[str]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Markers are checked as the tests are collected; a bad one errors its test at setup, before
    # any fixture or the body runs, while the other tests still run.
    for item in items:
        problem = marker_error(item)
        if problem is not None:
            item.stash[MARKER_ERROR] = problem


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    problem = item.stash.get(MARKER_ERROR, None)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    gc_tuning.end_startup()  # the first test, its DAG runs included, paid the cold start


def pytest_unconfigure(config: pytest.Config) -> None:
    gc_tuning.end_startup()
    reporter = config.pluginmanager.get_plugin("xcom-reporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
    dags = config.pluginmanager.get_plugin(repository.PLUGIN_NAME)
    if dags is not None:
        config.pluginmanager.unregister(dags)
    snapshots = config.pluginmanager.get_plugin(SNAPSHOT_PLUGIN)
    if snapshots is not None:
        config.pluginmanager.unregister(snapshots)
    _release(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    iso = config.stash.get(ISOLATION, None)
    if iso is None:
        where = "not isolated"
    elif iso.embedded:
        where = f"embedded SQLite in memory ({iso.db_path})"
    else:
        url = make_url(iso.db_url)
        where = (
            f"{url.drivername} server {url.host}:{url.port}, database {url.database} "
            "(created by pytest-xcom, dropped at the end)"
        )
    header = f"pytest-xcom {__version__}, apache-airflow {_airflow.airflow_version()}, metadata DB: {where}"
    swept = [f"pytest-xcom: removed {path}, left by an ended session" for path in (iso.swept if iso else ())]
    return [header, *swept, *(f"pytest-xcom WARNING: {problem}" for problem in _airflow.dependency_problems())]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    # What the body changed in Airflow's config or sys.modules must not reach the next test.
    # Policy violations fail the test that made the run, after its own body: a test that
    # already failed keeps its own error, and the violations are added as a report section.
    try:
        with body_state_restored():
            result = yield
    except BaseException:
        harness = item.stash.get(HARNESS, None)
        if harness is not None and harness.violations:
            item.add_report_section("call", "xcom policy", "\n\n".join(harness.violations))
        raise
    harness = item.stash.get(HARNESS, None)
    if harness is not None and harness.violations:
        pytest.fail(
            f"XCom policy ({harness.policy.describe()}) violated:\n\n" + "\n\n".join(harness.violations),
            pytrace=False,
        )
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    if call.excinfo is not None:
        hide_harness_frames(call.excinfo, item.config)  # before the report renders the traceback
    harness = item.stash.get(HARNESS, None)
    runs = harness.runs if harness is not None and call.when == "teardown" else []
    if runs:  # the JUnit XML properties (and any reporter's): the report copies them from the item
        item.user_properties.extend(ci.junit_properties(runs))
    report = yield
    if harness is not None:
        # Each failed task instance's Airflow log (--xcom-airflow-logs=failed): as pytest's own captured
        # sections, every report carries those of the phases so far (a run in a fixture shows in the call).
        report.sections = [*report.sections, *harness.log_sections]
    if runs:
        setattr(report, RUNS_ATTRIBUTE, [run.to_dict() for run in runs])
        if item.config.getoption("htmlpath", None):  # pytest-html writes a report: the runs go in its row
            from pytest_xcom.reporting.html import pytest_html_extra

            report.extras = [*getattr(report, "extras", []), pytest_html_extra(item.nodeid, runs)]
    return report


@pytest.hookimpl(wrapper=True)
def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> Any:
    # ``run == snapshot(extension_class=XComManifestExtension)``: the readable change list, ahead of
    # syrupy's own explanation (pytest shows the first one)
    explanations = yield
    extension = sys.modules.get("pytest_xcom.syrupy")  # only once a test module imported it
    if op != "==" or extension is None:
        return explanations
    lines = extension.explain(left, right, getattr(config.option, "diff_mode", None))
    return explanations if lines is None else [lines, *explanations]
