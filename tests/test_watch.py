"""``pytest-xcom watch``: a real watch process on a temporary project, edited while it runs.

Each test starts the command as a user would, waits for what it prints (a generous deadline only
guards against a hang: no timing is asserted), edits a file, and ends it with SIGINT or --once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from airflow_compat import requires_airflow3

pytest.importorskip("watchfiles")
if not hasattr(os, "fork"):
    pytest.skip("watch mode forks its runs", allow_module_level=True)

TESTS_DIR = Path(__file__).parent
READY = "pytest-xcom watch: ready"
DEADLINE = 600  # seconds: a hang guard for a loaded machine, not a measurement

USER_TESTS = """
from airflow_compat import dag, task


@dag(schedule=None)
def shop():
    @task
    def price():
        return 1299

    @task
    def doubled(value):
        return value * 2

    doubled(price())


def test_doubled(xcom):
    run = xcom.run(shop())
    run.assert_succeeded()
    assert run.value("doubled") == EXPECTED


def test_other(xcom):
    assert True
"""


class Watch:
    """A ``pytest-xcom watch`` process writing to a file, and what it has printed so far."""

    def __init__(self, project: Path, *args: str, extra_path: Path | None = None) -> None:
        self.output = project / "watch-output.txt"
        paths = [str(extra_path) if extra_path else "", str(TESTS_DIR), os.environ.get("PYTHONPATH")]
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths)))
        command = [sys.executable, "-m", "pytest_xcom.cli", "watch", "--no-clear", *args]
        with open(self.output, "wb") as sink:
            self.process = subprocess.Popen(
                command, cwd=project, env=environment, stdout=sink, stderr=subprocess.STDOUT
            )
        self.family: set[int] = set()

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, needle: str, count: int = 1) -> str:
        """Wait until ``needle`` has been printed ``count`` times; the output so far."""
        deadline = time.monotonic() + DEADLINE
        while True:
            self._note_family()
            text = self.text()
            if text.count(needle) >= count:
                return text
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"watch never printed {needle!r} x{count} (exit {self.process.poll()}):\n{text[-4000:]}")
            time.sleep(0.2)

    def _note_family(self) -> None:
        """The warm process and the runs: checked for leftovers once everything ended."""
        try:
            self.family.update(child.pid for child in psutil.Process(self.process.pid).children(recursive=True))
        except psutil.Error:
            pass

    def end(self, signum: int | None = signal.SIGINT) -> int:
        if signum is not None:
            self._note_family()
            self.process.send_signal(signum)
        try:
            return self.process.wait(DEADLINE)
        finally:
            if self.process.poll() is None:
                self.process.kill()

    def leftovers(self) -> tuple[list[int], list[str]]:
        """Processes of the family still running, and /dev/shm entries named after any of them."""
        running = []
        for pid in sorted(self.family | {self.process.pid}):
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    running.append(pid)
            except psutil.NoSuchProcess:
                pass
        shm = Path("/dev/shm")
        entries = sorted(
            entry.name
            for entry in (shm.iterdir() if shm.is_dir() else [])
            if any(entry.name.startswith(f"pytest-xcom-{pid}-") for pid in self.family | {self.process.pid})
        )
        return running, entries


def _write_tests(pytester: pytest.Pytester, expected: int) -> Path:
    return pytester.makepyfile(test_user=f"EXPECTED = {expected}\n" + textwrap.dedent(USER_TESTS))


def _summaries(text: str) -> list[str]:
    """pytest's summary lines (``-q``: "1 passed, 1 deselected in 0.91s")."""
    return [line for line in text.splitlines() if " in " in line and ("passed" in line or "failed" in line)]


@requires_airflow3("the warm process builds Airflow 3's execution API")
def test_an_edit_runs_the_tests_again_and_sigint_leaves_nothing(pytester: pytest.Pytester):
    test_file = _write_tests(pytester, expected=2598)
    watch = Watch(pytester.path, "-q", "-p", "loopback_guard", "-p", "no:randomly", "-k", "doubled")
    first = watch.wait_for(READY)
    assert _summaries(first) == [_summaries(first)[0]]
    assert _summaries(first)[0].startswith("1 passed, 1 deselected")
    assert f"{READY}; watching {pytester.path}" in first  # the rootdir, by default

    test_file.write_text(test_file.read_text().replace("EXPECTED = 2598", "EXPECTED = 0"))
    second = watch.wait_for(READY, count=2)
    # The edited module is imported afresh: each run is a new fork of the warm process.
    assert _summaries(second)[1].startswith("1 failed, 1 deselected")
    assert "assert 2598 == 0" in second

    assert watch.end(signal.SIGINT) == 130
    assert watch.leftovers() == ([], [])
    assert watch.family, "the warm process was never seen"


@requires_airflow3("the warm process builds Airflow 3's execution API")
def test_once_reruns_after_one_change_and_exits_with_its_code(pytester: pytest.Pytester):
    _write_tests(pytester, expected=2598)
    dag_dir = pytester.mkdir("dags")
    watch = Watch(pytester.path, "--once", "--path", str(dag_dir), "-q", "-p", "no:randomly", "-x")
    first = watch.wait_for(READY)
    assert _summaries(first)[0].startswith("2 passed")
    assert f"{READY}; watching {dag_dir}" in first

    (dag_dir / "new_dag.py").write_text("# a new file under the watched path\n")
    assert watch.end(signum=None) == 0
    assert [line.split(" in ")[0] for line in _summaries(watch.text())] == ["2 passed", "2 passed"]
    assert watch.leftovers() == ([], [])


@requires_airflow3("the warm process builds Airflow 3's execution API")
def test_the_warm_process_imports_no_user_code_and_is_safe_to_fork(pytester: pytest.Pytester):
    """After warm-up: one thread, no socket, no DB connection, no event loop, nothing of the project."""
    pytester.makeconftest("import pathlib; pathlib.Path('conftest-imported').touch()")
    pytester.makepyfile(dag_file="import pathlib; pathlib.Path('dag-imported').touch()")
    _write_tests(pytester, expected=0)
    script = textwrap.dedent(
        """
        import json, os, sys, threading
        from pytest_xcom.watch import warm
        from pytest_xcom.watch.forksafety import fork_hazards
        from pytest_xcom._airflow import api_server
        from pytest_xcom._airflow.warm import open_db_connections

        ready = warm.warm_up()
        here = os.path.realpath(os.getcwd()) + os.sep
        print(json.dumps({
            "hazards": fork_hazards(),
            "threads": threading.active_count(),
            "db_connections": open_db_connections(),
            "project_modules": [path for path in ready["modules"] if path.startswith(here)],
            "airflow": "airflow" in sys.modules,
            "api_built": bool(api_server._servers),
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=pytester.path, capture_output=True, text=True, timeout=DEADLINE
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "hazards": [],
        "threads": 1,
        "db_connections": 0,
        "project_modules": [],
        "airflow": True,
        "api_built": True,
    }
    assert not (pytester.path / "conftest-imported").exists()
    assert not (pytester.path / "dag-imported").exists()


def test_options_it_cannot_honour_are_refused(pytester: pytest.Pytester):
    done = subprocess.run(
        [sys.executable, "-m", "pytest_xcom.cli", "watch", "--xcom-db", "postgresql://x/y"],
        cwd=pytester.path, capture_output=True, text=True, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 2
    assert "pytest-xcom watch: --xcom-db is not supported in watch mode" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "pytest_xcom.cli", "watch", "--path", "no-such-dir"],
        cwd=pytester.path, capture_output=True, text=True, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 2
    assert "pytest-xcom watch: --path no-such-dir: no such file or directory" in done.stderr


def test_a_stale_warm_process_is_told_by_its_imports_and_installed_distributions(tmp_path: Path):
    from pytest_xcom.watch.triggers import WarmState

    site = tmp_path / "site-packages"
    site.mkdir()
    module = site / "imported.py"
    module.write_text("x = 1\n")
    state = WarmState.taken([str(module)], [str(site)])
    assert state.stale_because([str(tmp_path / "elsewhere.py")]) is None
    assert state.stale_because([str(module)]) == "imported.py changed, and the warm process imported it"

    (site / "newpackage-1.0.dist-info").mkdir()
    assert state.stale_because() == "the installed distributions or .pth files changed"

    state = WarmState.taken([str(module)], [str(site)])
    module.write_text("x = 22\n")  # an edit outside the watched paths: seen by its size and time
    assert state.stale_because() == f"{module} changed, and the warm process imported it"


DAG_FILE = """
from airflow_compat import dag, task


@dag(schedule=None)
def prices():
    @task
    def fetch():
        return {"SKU-1": PRICE}

    fetch()


prices()
"""


@requires_airflow3("the warm process builds Airflow 3's execution API")
def test_whole_repository_mode_and_snapshot_updates_run_through_watch(pytester: pytest.Pytester):
    """--xcom-dags and --xcom-snapshot-update reach each run; the snapshots a run writes start no run."""
    dags = pytester.mkdir("dags")
    dag_file = dags / "prices.py"
    dag_file.write_text("PRICE = 1299\n" + textwrap.dedent(DAG_FILE))
    snapshot = pytester.path / "__xcom_snapshots__" / "dags" / "dags" / "prices.py" / "prices.json"
    watch = Watch(pytester.path, "-q", "-p", "no:randomly", "--xcom-dags", "dags", "--xcom-snapshot-update")
    first = watch.wait_for(READY)
    assert _summaries(first)[0].startswith("2 passed")
    assert "1299" in snapshot.read_text()

    dag_file.write_text("PRICE = 4599\n" + textwrap.dedent(DAG_FILE))
    second = watch.wait_for(READY, count=2)
    assert [line.split(" in ")[0] for line in _summaries(second)] == ["2 passed", "2 passed"]
    assert "4599" in snapshot.read_text()

    assert watch.end(signal.SIGTERM) == 130
    assert len(_summaries(watch.text())) == 2  # the snapshot the second run wrote started no third
    assert watch.leftovers() == ([], [])


@requires_airflow3("the warm process builds Airflow 3's execution API")
def test_an_edit_to_a_module_the_warm_process_imported_restarts_it(pytester: pytest.Pytester):
    """An installed pytest plugin (imported while warming up) is edited: a new warm process runs the tests."""
    site = pytester.mkdir("site")
    (site / "fakeplug.py").write_text(
        "GREETING = 'one'\n\ndef pytest_report_header():\n    return f'fakeplug {GREETING}'\n"
    )
    info = site / "fakeplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nfakeplug = fakeplug\n")
    _write_tests(pytester, expected=2598)
    watch = Watch(pytester.path, "--path", str(site), "-p", "no:randomly", "-k", "doubled", extra_path=site)
    assert "fakeplug one" in watch.wait_for(READY)

    (site / "fakeplug.py").write_text((site / "fakeplug.py").read_text().replace("'one'", "'two'"))
    text = watch.wait_for(READY, count=2)
    assert (
        "pytest-xcom watch: restarting the warm process: fakeplug.py changed, and the warm process imported it" in text
    )
    assert "fakeplug two" in text
    assert watch.end(signal.SIGINT) == 130
    assert watch.leftovers() == ([], [])


@requires_airflow3("the warm process builds Airflow 3's execution API")
def test_sigint_during_a_run_ends_the_run_too_and_leaves_nothing(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_slow="""
        import time
        from pathlib import Path
        from airflow_compat import dag, task


        @dag(schedule=None)
        def slow():
            @task
            def work():
                return 1

            work()


        def test_slow(xcom):
            xcom.run(slow()).assert_succeeded()
            Path("running").touch()
            time.sleep(600)
        """
    )
    watch = Watch(pytester.path, "-q", "-p", "no:randomly")
    deadline = time.monotonic() + DEADLINE
    while not (pytester.path / "running").exists():
        assert watch.process.poll() is None and time.monotonic() < deadline, watch.text()[-3000:]
        watch._note_family()
        time.sleep(0.2)
    watch._note_family()
    assert len(watch.family) >= 2  # the warm process and the run
    assert watch.end(signal.SIGINT) == 130
    assert watch.leftovers() == ([], [])
    assert READY not in watch.text()
