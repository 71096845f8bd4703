"""What a session leaves when it cannot clean up, and what it must not let in.

- ``os._exit`` in task code ends the pytest process at once: its ``/dev/shm`` directory (and its
  ``--xcom-db`` database) stay; the next session on this machine sweeps them, never a live run's.
- A second ``pytest.main()`` in one process (notebooks, ipytest) works and leaves nothing behind.
- The user's ``[workers] secrets_backend`` is never asked; ``AIRFLOW_VAR_*`` / ``AIRFLOW_CONN_*``
  set before pytest starts stay visible, and the harness's defaults do not override them.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_xcom.isolation import env

from airflow_compat import requires_airflow3

TESTS_DIR = Path(__file__).parent
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB = "mysql://root@127.0.0.1:3306/test"
PYTEST = [sys.executable, "-m", "pytest", "-p", "loopback_guard", "-p", "no:randomly", "-p", "no:cacheprovider"]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _server(url: str, port: int, driver: str):
    if importlib.util.find_spec(driver) is None:
        return pytest.param(url, marks=pytest.mark.skip(reason=f"driver {driver} not installed"))
    return pytest.param(url, marks=pytest.mark.skipif(not _listening(port), reason=f"no server on 127.0.0.1:{port}"))


def _engine(url: str):
    from sqlalchemy import create_engine

    sync = url.replace("postgresql://", "postgresql+psycopg2://").replace("mysql://", "mysql+mysqldb://")
    return create_engine(sync, isolation_level="AUTOCOMMIT")


def _databases(url: str) -> set[str]:
    from sqlalchemy import text

    engine = _engine(url)
    query = "SELECT datname FROM pg_database" if url.startswith("postgresql") else "SHOW DATABASES"
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text(query))}
    finally:
        engine.dispose()


def _execute(url: str, statement: str) -> None:
    from sqlalchemy import text

    engine = _engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def _quoted(url: str, name: str) -> str:
    return f'"{name}"' if url.startswith("postgresql") else f"`{name}`"


def _shm(pid: int) -> list[Path]:
    return sorted(Path("/dev/shm").glob(f"pytest-xcom-{pid}-*"))


def _run(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [*PYTEST, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


CRASHING = """
import os
from pathlib import Path
from airflow_compat import dag, task

@dag(schedule=None)
def crashing():
    @task
    def die():
        os._exit(3)          # ends the pytest process itself: task code runs in it
    die()

def test_crash(xcom, xcom_db):
    Path("made.txt").write_text(os.environ["AIRFLOW_HOME"] + "\\n" + xcom_db.url)
    xcom.run(crashing())
"""


@pytest.mark.parametrize("url", [None, _server(POSTGRES, 5432, "psycopg2"), _server(MARIADB, 3306, "MySQLdb")])
def test_what_os_exit_leaves_is_swept_by_the_next_session_and_a_live_runs_is_not(pytester, url):
    pytester.makepyfile(test_crash=CRASHING, test_next="def test_nothing():\n    pass\n")
    options = [f"--xcom-db={url}"] if url else []
    crashed = subprocess.Popen(
        [*PYTEST, "-p", "no:xdist", *options, "test_crash.py"],
        cwd=pytester.path,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert crashed.wait(timeout=300) == 3
    home, db_url = (pytester.path / "made.txt").read_text().splitlines()
    made = Path(home).parent
    made_db = db_url.rsplit("/", 1)[-1]
    assert made.name.startswith(f"pytest-xcom-{crashed.pid}-")
    # Other sessions on this machine (xdist workers, parallel jobs) may sweep it first: either way
    # it must be gone after the next session (which names what it removed in its header).

    # A live run of this machine (a process that is still running), whose files must stay.
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    live_dir = Path("/dev/shm") / f"pytest-xcom-{env._owner('-', live.pid)}-livetest"
    live_db = f"pytest_xcom_{env._owner('_', live.pid)}_livetest"
    try:
        live_dir.mkdir()
        if url:
            _execute(url, f"CREATE DATABASE {_quoted(url, live_db)}")
        result = _run(pytester.path, *options, "test_next.py")
        assert result.returncode == 0, result.stdout + result.stderr
        assert not made.exists(), "the next session did not sweep the crashed session's directory"
        if url:
            after = _databases(url)
            assert made_db not in after, "the next session did not sweep the crashed session's database"
            assert live_db in after, "the sweep dropped a live run's database"
        assert live_dir.is_dir(), "the sweep removed a live run's directory"
    finally:
        live.kill()
        live.wait()
        if live_dir.exists():
            live_dir.rmdir()
        if url:
            _execute(url, f"DROP DATABASE IF EXISTS {_quoted(url, live_db)}")


def test_the_sweep_tells_ended_sessions_from_live_ones(tmp_path):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        owner = env._owner("-", live.pid)
        pid, machine, started = owner.split("-")
        names = {
            "ended": f"pytest-xcom-{ended.pid}-{machine}-{started}-aaaaaaaa",
            "live": f"pytest-xcom-{owner}-bbbbbbbb",
            "pid-reused": f"pytest-xcom-{pid}-{machine}-{started}0-cccccccc",  # same pid, another start time
            "other-machine": f"pytest-xcom-{ended.pid}-00000000-{started}-dddddddd",
            "legacy-ended": f"pytest-xcom-{ended.pid}-eeeeeeee",
            "legacy-live": f"pytest-xcom-{pid}-ffffffff",
            "this-process": f"pytest-xcom-{env._owner('-')}-gggggggg",
        }
        for name in names.values():
            (tmp_path / name).mkdir()
        (tmp_path / f"pytest-xcom-{ended.pid}-{machine}-{started}-notadir").touch()
        removed = env.sweep_leftovers(str(tmp_path))
        assert sorted(Path(path).name for path in removed) == sorted(
            names[key] for key in ("ended", "pid-reused", "legacy-ended")
        )
        kept = {path.name for path in tmp_path.iterdir()}
        assert {names[key] for key in ("live", "other-machine", "legacy-live", "this-process")} <= kept
        assert env.is_leftover_database(f"pytest_xcom_{ended.pid}_{machine}_{started}_ab12cd")
        assert not env.is_leftover_database(f"pytest_xcom_{env._owner('_', live.pid)}_ab12cd")
        assert not env.is_leftover_database(f"pytest_xcom_{ended.pid}_00000000_{started}_ab12cd")
        assert not env.is_leftover_database(f"pytest_xcom_{ended.pid}_ab12cd34")  # no owner: never dropped
        assert not env.is_leftover_database("users_db")
    finally:
        live.kill()
        live.wait()


SECOND_MAIN = """
import os, sys
from pathlib import Path
import pytest

args = ["-q", "-p", "loopback_guard", "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist"]
first = sys.argv[1:]
other = [] if first else ["--xcom-db=postgresql://postgres@127.0.0.1:5432/postgres"]
codes = [
    pytest.main([*args, *first, "test_user.py"]),
    pytest.main([*args, *first, "test_user.py"]),
    pytest.main([*args, *first, "broken"]),          # its conftest does not import: pytest never unconfigures it
    pytest.main([*args, *first, "test_user.py"]),
    pytest.main([*args, *other, "test_user.py"]),    # another metadata DB than the first session's
]
print("CODES", [int(code) for code in codes])
print("LEFT", [name for name in os.listdir("/dev/shm") if name.startswith(f"pytest-xcom-{os.getpid()}-")])
print("PID", os.getpid())
"""

USER_TEST = """
from airflow_compat import dag, task

@dag(schedule=None)
def pair():
    @task
    def make():
        return {"n": 2}
    @task
    def use(value):
        return value["n"] * 2
    use(make())

def test_runs(xcom):
    run = xcom.run(pair())
    run.assert_succeeded()
    assert run.value("use") == 4
"""


@pytest.mark.parametrize("url", [None, _server(POSTGRES, 5432, "psycopg2")])
def test_a_second_pytest_main_in_one_process_works_and_leaves_nothing(pytester, url):
    pytester.makepyfile(twice=SECOND_MAIN, test_user=USER_TEST)
    broken = pytester.mkdir("broken")
    (broken / "conftest.py").write_text("raise RuntimeError('this conftest does not import')\n")
    (broken / "test_b.py").write_text("def test_b():\n    pass\n")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(
        [sys.executable, "twice.py", *([f"--xcom-db={url}"] if url else [])],
        cwd=pytester.path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "CODES [0, 0, 4, 0, 4]" in output, output[-4000:]
    assert "LEFT []" in output, output[-4000:]
    assert "An earlier pytest session in this process" in output
    assert "Airflow, once imported, stays configured for that metadata DB" in output
    assert "sitecustomize" not in output, "the refusal blamed a sitecustomize for the harness's own DB"
    if url:
        pid = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("PID "))
        assert not [name for name in _databases(url) if name.startswith(f"pytest_xcom_{pid}_")]


RECORDING_SECRETS = """
import os
from airflow.secrets import BaseSecretsBackend


class Recorder(BaseSecretsBackend):
    def __init__(self, **kwargs):
        self._note(f"created with {kwargs}")

    def _note(self, what):
        with open(os.environ["SECRETS_LOG"], "a") as log:
            log.write(what + "\\n")

    def get_conn_value(self, conn_id, team_name=None):
        self._note(f"connection {conn_id}")
        return None

    def get_variable(self, key, team_name=None):
        self._note(f"variable {key}")
        return None
"""


@requires_airflow3("the DAG reads through the Task SDK's Connection.get / Variable.get (airflow.sdk)")
def test_the_users_secrets_backends_are_never_asked_and_env_values_stay(user_tests, pytester, monkeypatch, tmp_path):
    log = tmp_path / "secrets.log"
    pytester.makepyfile(recording_secrets=RECORDING_SECRETS)
    monkeypatch.setenv("SECRETS_LOG", str(log))
    for section, option in (("WORKERS", "SECRETS_BACKEND"), ("SECRETS", "BACKEND")):
        monkeypatch.setenv(f"AIRFLOW__{section}__{option}", "recording_secrets.Recorder")
        monkeypatch.setenv(f"AIRFLOW__{section}__{option}_KWARGS", '{"endpoint": "https://vault.prod.internal"}')
    monkeypatch.setenv("AIRFLOW_VAR_TEST_REGION", "eu-test-1")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgres://tester@127.0.0.1:5432/warehouse")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", "aws://users-key:users-secret@")
    result = user_tests(
        """
        import os
        from airflow.sdk import Connection, Variable, dag, task

        @dag(schedule=None)
        def lookups():
            @task
            def look():
                return {
                    "prod": Variable.get("prod_only", default="not found"),
                    "region": Variable.get("test_region"),
                    "warehouse": Connection.get("warehouse").host,
                    "aws_default": os.environ["AIRFLOW_CONN_AWS_DEFAULT"],
                    "backends": [k for k in os.environ if "SECRETS__BACKEND" in k or "WORKERS__SECRETS" in k],
                }
            look()

        def test_lookups(xcom):
            run = xcom.run(lookups())
            run.assert_succeeded()
            assert run.value("look") == {
                "prod": "not found",
                "region": "eu-test-1",
                "warehouse": "127.0.0.1",
                "aws_default": "aws://users-key:users-secret@",
                "backends": [],
            }
        """,
        subprocess=True,
    )
    result.assert_outcomes(passed=1)
    assert not log.exists(), f"the user's secrets backend was asked: {log.read_text()}"
