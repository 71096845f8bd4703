"""Subprocesses the benchmark times: its own workers, ``airflow db migrate`` and pytest sessions."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORKER = BENCH_DIR / "worker.py"


class BenchProcessError(RuntimeError):
    """A timed subprocess failed; the message carries the tail of its output."""


@dataclass(frozen=True)
class Finished:
    seconds: float  # wall time of the whole process
    cpu_seconds: float  # user + system time of the process and its children
    output: str  # stdout and stderr, interleaved


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def clean_env(**overrides: str) -> dict[str, str]:
    """This environment without any Airflow or pytest-xcom setting, plus ``overrides``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "_AIRFLOW", "PYTEST_XCOM_", "PYTEST_ADDOPTS"))
    }
    env.update(overrides)
    return env


def timed(cmd: Sequence[str | Path], *, env: dict[str, str], cwd: Path | None = None, what: str) -> Finished:
    """Run ``cmd`` to completion and return its wall and CPU time; raise with its output if it fails."""
    with tempfile.TemporaryFile("w+") as log:
        started, cpu = time.perf_counter(), _children_cpu()
        code = subprocess.call(
            [str(part) for part in cmd],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
        log.seek(0)
        output = log.read()
    if code != 0:
        tail = "\n".join(output.splitlines()[-40:])
        raise BenchProcessError(f"{what} failed (exit {code}): {' '.join(map(str, cmd))}\n{tail}")
    return Finished(seconds, cpu, output)


def worker(mode: str, *args: str, cache_dir: Path, scratch: Path) -> tuple[dict[str, Any], Finished]:
    """Run ``bench/worker.py MODE`` in a fresh interpreter; return its JSON result and timing."""
    out = Path(tempfile.mkstemp(suffix=".json", dir=scratch)[1])
    finished = timed(
        [sys.executable, WORKER, mode, "--out", out, *args],
        env=clean_env(PYTEST_XCOM_CACHE_DIR=str(cache_dir)),
        what=f"bench worker {mode}",
    )
    return json.loads(out.read_text()), finished


def airflow_db_migrate(scratch: Path) -> Finished:
    """Wall time of ``airflow db migrate`` on a new SQLite file (on the same memory filesystem)."""
    home = Path(tempfile.mkdtemp(prefix="migrate-", dir=scratch))
    db = home / "airflow.db"
    finished = timed(
        [Path(sys.executable).parent / "airflow", "db", "migrate"],
        env=clean_env(
            AIRFLOW_HOME=str(home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{db}",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
        ),
        what="airflow db migrate",
    )
    if not db.is_file() or db.stat().st_size == 0:
        raise BenchProcessError(f"airflow db migrate left no database at {db}:\n{finished.output[-2000:]}")
    return finished


def pytest_session(
    python: Path,
    suite: Path,
    *,
    expected_passed: int | None,
    env: dict[str, str],
    args: Sequence[str] = (),
    cwd: Path | None = None,
) -> Finished:
    """Wall time of a whole ``python -m pytest`` process on ``suite``; every test must pass.

    ``expected_passed``: how many must pass (None: any number, but no failure or error).
    ``cwd`` (default ``suite``): run there, with ``suite`` as the path argument.
    """
    cmd = [python, "-m", "pytest", "-q", *args, *([suite] if cwd is not None else [])]
    finished = timed(cmd, env=env, cwd=cwd or suite, what=f"pytest session in {suite}")
    last = finished.output.strip().splitlines()[-1] if finished.output.strip() else ""
    summary = f"{expected_passed} passed" if expected_passed is not None else " passed"
    if summary not in last or " failed" in last or " error" in last:
        raise BenchProcessError(f"pytest in {suite} did not report '{summary.strip()}':\n{finished.output[-2000:]}")
    return finished


class Watcher:
    """A ``pytest-xcom watch`` process whose output lines are read as they come, with their times."""

    SUMMARY = re.compile(r"^\d+ (passed|failed)\b.* in [\d.]+s")
    READY = "pytest-xcom watch: ready"

    def __init__(self, python: Path, project: Path, *, env: dict[str, str], args: Sequence[str]) -> None:
        self.process = subprocess.Popen(
            [str(python), "-m", "pytest_xcom.cli", "watch", "--no-clear", *args],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.lines: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._changed:
                self.lines.append((time.perf_counter(), line))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def count(self, matches: Callable[[str], bool]) -> int:
        with self._changed:
            return sum(1 for _, line in self.lines if matches(line))

    def wait_for(self, matches: Callable[[str], bool], count: int, timeout: float = 600) -> float:
        """When the ``count``-th line that ``matches`` was read (perf_counter); raises on exit or timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [when for when, line in self.lines if matches(line)]
                if len(found) >= count:
                    return found[count - 1]
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = "\n".join(line for _, line in self.lines[-40:])
                    raise BenchProcessError(f"pytest-xcom watch stopped before its line #{count}:\n{tail}")
                self._changed.wait(0.5)

    def is_summary(self, line: str) -> bool:
        return bool(self.SUMMARY.match(line))

    def is_ready(self, line: str) -> bool:
        return line.startswith(self.READY)

    def runs_cpu(self) -> float:
        """CPU time of every run so far: the forks the warm process has reaped (psutil's children times)."""
        import psutil

        total = 0.0
        for process in psutil.Process(self.process.pid).children():
            times = process.cpu_times()
            total += times.children_user + times.children_system
        return total

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
