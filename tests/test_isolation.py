"""Isolation: each test gets a fresh DB and record; the user's Airflow DB is never touched."""

import os
import subprocess
import sys
import textwrap


def test_two_tests_do_not_see_each_other(user_tests):
    result = user_tests(
        """
        from sqlalchemy import func, select
        from airflow.models import DagRun
        from airflow_compat import XComModel
        from mapped_dag import mapped_dag

        def rows(xcom_db, model):
            with xcom_db.session() as session:
                return session.scalar(select(func.count()).select_from(model))

        def test_first(xcom, xcom_db):
            xcom.run(mapped_dag)
            assert rows(xcom_db, DagRun) == 1 and rows(xcom_db, XComModel) == 14

        def test_second(xcom, xcom_db):
            assert xcom.runs == []
            assert rows(xcom_db, DagRun) == 0 and rows(xcom_db, XComModel) == 0
            run = xcom.run(mapped_dag)
            assert len(run.pushes) == 14 and rows(xcom_db, DagRun) == 1
        """,
        dag_files=("mapped_dag.py",),
    )
    result.assert_outcomes(passed=2)


def test_users_airflow_db_and_home_are_never_touched(user_tests, pytester, monkeypatch, tmp_path):
    user_home = tmp_path / "users_airflow_home"
    user_home.mkdir()
    user_db = tmp_path / "users_airflow.db"
    monkeypatch.setenv("AIRFLOW_HOME", str(user_home))
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{user_db}")
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD", "echo sqlite:////nowhere.db")
    result = user_tests(
        """
        import os
        from mapped_dag import mapped_dag

        def test_runs_elsewhere(xcom, xcom_db):
            assert "users_airflow" not in xcom_db.url
            assert os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == xcom_db.url
            assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD" not in os.environ
            xcom.run(mapped_dag).assert_succeeded()
        """,
        dag_files=("mapped_dag.py",),
        subprocess=True,
    )
    result.assert_outcomes(passed=1)
    assert not user_db.exists(), "the harness created or wrote the user's configured DB"
    assert list(user_home.iterdir()) == [], "the harness wrote into the user's AIRFLOW_HOME"


def test_report_header_names_versions_and_db(user_tests):
    result = user_tests("def test_nothing():\n    pass\n")
    result.stdout.fnmatch_lines(
        ["pytest-xcom 0.1.*, apache-airflow [23].*, metadata DB: embedded SQLite in memory (*airflow.db)"]
    )


def test_plugin_loads_with_autoload_disabled(user_tests, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = user_tests(
        """
        from mapped_dag import mapped_dag

        def test_run(xcom):
            assert xcom.run(mapped_dag).value("total") == 150
        """,
        "-p",
        "xcom",
        dag_files=("mapped_dag.py",),
        subprocess=True,
    )
    result.assert_outcomes(passed=1)


def test_environment_is_restored_after_the_session(monkeypatch, tmp_path):
    from pytest_xcom.isolation import env

    monkeypatch.setattr(env, "_active", None)  # pretend no session has isolated this process yet
    monkeypatch.setattr(env, "_refuse_if_airflow_configured_elsewhere", lambda url: None)
    monkeypatch.setenv("AIRFLOW_HOME", "/users/home")
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", "users.secrets.Backend")
    monkeypatch.delenv("AIRFLOW__CORE__XCOM_BACKEND", raising=False)
    before = dict(os.environ)
    iso = env.isolate()
    assert os.environ["AIRFLOW_HOME"] == str(iso.home)
    assert "AIRFLOW__SECRETS__BACKEND" not in os.environ
    env.release(iso)
    assert dict(os.environ) == before
    assert not iso.root.exists()


def test_template_cache_is_built_once_by_concurrent_sessions(pytester, tmp_path):
    pytester.copy_example("mapped_dag.py")
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            from mapped_dag import mapped_dag

            def test_run(xcom):
                assert xcom.run(mapped_dag).value("total") == 150
            """
        )
    )
    cache = tmp_path / "cache"
    tests_dir = os.path.dirname(__file__)
    environment = dict(os.environ, PYTEST_XCOM_CACHE_DIR=str(cache), PYTHONPATH=tests_dir)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "loopback_guard", "-p", "no:cacheprovider", "-p", "no:randomly"]
    sessions = [
        subprocess.Popen(command, cwd=pytester.path, env=environment, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [session.communicate(timeout=300)[0] for session in sessions]
    assert [session.returncode for session in sessions] == [0, 0, 0], outputs
    assert len(list(cache.glob("*.db"))) == 1
    assert list(cache.glob("*.tmp")) == []
