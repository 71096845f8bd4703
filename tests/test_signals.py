"""SIGTERM (a CI cancel, `timeout`) ends a session at any point, promptly and with a non-zero status,
and takes the session's throwaway directory (and, with --xcom-db, its database) with it.

Airflow's task runner installs a SIGTERM handler for each task (it calls the operator's on_kill)
and leaves it in place; the harness puts the process's handlers back after every run, and chains a
handler installed during a run to the session's own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB = "mysql://root@127.0.0.1:3306/test"

USER_TESTS = """
import os, time
from pathlib import Path
from airflow_compat import dag, task

MARKS = Path(os.environ["XCOM_SIGNAL_MARKS"])
AT = os.environ["XCOM_SIGNAL_AT"]


def mark(name):
    (MARKS / name).touch()


if AT == "collection":
    mark("collection")
    time.sleep(60)


@dag(schedule=None)
def sleepy():
    @task
    def work():
        mark("run")
        if AT == "run":
            time.sleep(60)
        return 1

    work()


def test_runs_then_waits(xcom):
    xcom.run(sleepy()).assert_succeeded()
    mark("after-run")
    time.sleep(60)


def test_later():
    mark("later")
"""


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _server(url: str, port: int, driver: str):
    import importlib.util

    if importlib.util.find_spec(driver) is None:
        return pytest.param(url, marks=pytest.mark.skip(reason=f"driver {driver} not installed"))
    return pytest.param(url, marks=pytest.mark.skipif(not _listening(port), reason=f"no server on 127.0.0.1:{port}"))


def _databases(url: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://").replace("mysql://", "mysql+mysqldb://"))
    query = "SELECT datname FROM pg_database" if url.startswith("postgresql") else "SHOW DATABASES"
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text(query))}
    finally:
        engine.dispose()


def _leftovers(pid: int) -> list[str]:
    return sorted(name for name in os.listdir("/dev/shm") if name.startswith(f"pytest-xcom-{pid}-"))


def _start_session(pytester: pytest.Pytester, at: str, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    pytester.makepyfile(test_user=textwrap.dedent(USER_TESTS))
    marks = pytester.path / "marks"
    marks.mkdir(exist_ok=True)
    output = pytester.path / "output.txt"
    environment = dict(
        os.environ,
        XCOM_SIGNAL_MARKS=str(marks),
        XCOM_SIGNAL_AT=at,
        PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])),
    )
    command = [sys.executable, "-m", "pytest", "-p", "loopback_guard", "-p", "no:randomly", "-p", "no:cacheprovider"]
    with open(output, "wb") as sink:
        session = subprocess.Popen(
            [*command, "-s", "-p", "no:xdist", *args, "test_user.py"],
            cwd=pytester.path,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return session, marks, output


def _terminate_at(session: subprocess.Popen[bytes], marks: Path, output: Path, at: str) -> float:
    """Wait until the session reaches ``at``, send SIGTERM, and return how long it took to end."""
    deadline = time.monotonic() + 240
    while not (marks / at).exists():
        if session.poll() is not None or time.monotonic() > deadline:
            session.kill()
            pytest.fail(f"the session never reached {at!r}:\n{output.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    time.sleep(0.5)  # well inside the sleep that follows the mark
    sent = time.monotonic()
    session.send_signal(signal.SIGTERM)
    try:
        session.wait(timeout=20)
    except subprocess.TimeoutExpired:
        session.kill()
        session.wait()
        pytest.fail(f"SIGTERM at {at!r} did not end the session within 20 s:\n{output.read_text(errors='replace')[-3000:]}")
    return time.monotonic() - sent


@pytest.mark.parametrize("at", ["collection", "run", "after-run"])
def test_sigterm_ends_the_session_promptly_and_leaves_nothing(pytester, at):
    session, marks, output = _start_session(pytester, at)
    took = _terminate_at(session, marks, output, at)
    assert session.returncode == -signal.SIGTERM, output.read_text(errors="replace")[-3000:]
    assert took < 15
    assert not (marks / "later").exists(), "the session went on after SIGTERM"
    assert _leftovers(session.pid) == [], "SIGTERM left the session's directory in /dev/shm"


@pytest.mark.parametrize("url", [_server(POSTGRES, 5432, "psycopg2"), _server(MARIADB, 3306, "MySQLdb")])
@pytest.mark.parametrize("at", ["run", "after-run"])
def test_sigterm_drops_the_sessions_server_database(pytester, url, at):
    session, marks, output = _start_session(pytester, at, f"--xcom-db={url}")
    _terminate_at(session, marks, output, at)
    assert session.returncode == -signal.SIGTERM, output.read_text(errors="replace")[-3000:]
    ours = sorted(name for name in _databases(url) if name.startswith(f"pytest_xcom_{session.pid}_"))
    assert ours == [], "SIGTERM left the session's database on the server"
    assert _leftovers(session.pid) == []


def test_signal_handlers_and_a_pending_alarm_are_put_back_after_a_run(user_tests):
    result = user_tests(
        """
        import datetime, signal
        from airflow_compat import dag, task

        @dag(schedule=None)
        def timed():
            @task(execution_timeout=datetime.timedelta(seconds=30))   # Airflow's SIGALRM timeout
            def work():
                return 1
            work()

        def on_alarm(signum, frame):
            raise AssertionError("the alarm of the test (pytest-timeout's) fired")

        def test_handlers(xcom):
            before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)}
            previous_alarm = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, 120)
            try:
                xcom.run(timed()).assert_succeeded()
                after = {s: signal.getsignal(s) for s in before}
                assert after == before
                assert signal.getsignal(signal.SIGALRM) is on_alarm
                assert 60 < signal.getitimer(signal.ITIMER_REAL)[0] <= 120, "the run cancelled the test's alarm"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_alarm)
        """,
    )
    result.assert_outcomes(passed=1)
