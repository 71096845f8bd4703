"""The warm process: everything a run needs imported and built once, then one fork per run.

Run by the supervisor as ``python -m pytest_xcom.watch.warm IN_FD OUT_FD``. It never imports user
code (DAG files, tests, conftest, the user's packages): the working directory is taken off
``sys.path`` (and stays off in the runs, as under the ``pytest`` command rather than
``python -m pytest``), and everything it imports comes from installed distributions.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from pytest_xcom import gc_tuning
from pytest_xcom.watch import child, protocol

_child_pid: int | None = None
_stopping = False


def _on_stop(signum: int, frame: FrameType | None) -> None:
    """SIGINT/SIGTERM: pass it to the run in progress (pytest ends it and cleans up), then end."""
    global _stopping
    _stopping = True
    raise SystemExit(128 + signum)  # main()'s finally ends the run in progress


def _working_directory_entries() -> list[str]:
    """The ``sys.path`` entries that name the working directory (where user code is)."""
    here = os.path.realpath(os.getcwd())
    return [entry for entry in sys.path if entry == "" or os.path.realpath(entry) == here]


def warm_up() -> dict[str, Any]:
    """Import and build what every run needs; returns what the supervisor is told about it."""
    started = time.perf_counter()
    gc_tuning.defer_collections()
    user_entries = _working_directory_entries()
    for entry in user_entries:
        sys.path.remove(entry)
    from pytest_xcom.isolation import env

    # Airflow is configured by env.isolate() (its throwaway home and DB); released right after,
    # each run's session isolates again under the same names (env._last) and removes them at its end.
    iso = env.isolate()
    try:
        _import_pytest_plugins()
        from pytest_xcom._airflow import warm as airflow_warm
        from pytest_xcom.watch.learn import learned_in_a_fork

        airflow_warm.import_airflow()
        for name in learned_in_a_fork(iso):
            # Modules of installed distributions only; one that fails to import here fails the
            # same way in the run that needs it, which then says so.
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        airflow_warm.build_ahead()
    finally:
        env.release(iso)
    gc_tuning.end_startup()  # thresholds back, and the warm heap frozen: every fork shares it untouched
    return {
        "seconds": time.perf_counter() - started,
        "modules": imported_files(),
        "sys_path": list(sys.path),
        "pid": os.getpid(),
    }


def _import_pytest_plugins() -> None:
    """pytest, its built-in plugins and the installed ``pytest11`` plugins (pytest-xcom's among them)."""
    from importlib import metadata

    import pytest  # noqa: F401
    from _pytest.config import default_plugins

    for name in default_plugins:
        with contextlib.suppress(ImportError):
            importlib.import_module(f"_pytest.{name}")
    for entry_point in metadata.entry_points(group="pytest11"):
        # An installed plugin failing to import fails every run the same way: pytest says so there.
        with contextlib.suppress(Exception):
            importlib.import_module(entry_point.module)


def imported_files() -> list[str]:
    """The source files of every module this process imported: an edit to one makes it stale."""
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.isfile(path):
            files.add(os.path.realpath(path))
    return sorted(files)


def _session_root() -> Path | None:
    """The throwaway home the runs' sessions reuse (named after this process)."""
    from pytest_xcom.isolation import env

    last = env._last
    return last.root if last is not None else None


def _remove_session_root() -> None:
    """What a run killed outright left (its session removes it itself when it ends normally)."""
    root = _session_root()
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


def run_in_child(args: list[str], hazards: list[str], report: BinaryIO) -> int:
    """Fork, run ``pytest ARGS`` in the child, wait; the child's exit code (or 128 + its signal)."""
    global _child_pid
    if hazards:
        print(f"pytest-xcom watch: not forking, the warm process holds {'; '.join(hazards)}", file=sys.stderr)
        return child.INTERNAL_ERROR
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        child.run(args, report)  # never returns
    _child_pid = pid
    _, status = os.waitpid(pid, 0)
    _child_pid = None
    _remove_session_root()
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it


def main(argv: list[str]) -> int:
    inbox, outbox = protocol.reader(int(argv[0])), protocol.writer(int(argv[1]))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_stop)
    try:
        ready = warm_up()
        from pytest_xcom.watch.forksafety import fork_hazards

        ready["hazards"] = fork_hazards()
        protocol.send(outbox, {"ready": ready})
        while not _stopping:
            message = protocol.receive(inbox)
            if message is None or "run" not in message:
                return 0  # the supervisor closed the pipe or said stop
            code = run_in_child(message["run"], fork_hazards(), outbox)
            protocol.send(outbox, {"exit": code})
    except BrokenPipeError:
        return 0  # the supervisor is gone
    finally:
        _end_child()
        _remove_session_root()
    return 0


def _end_child(grace: float = 10.0) -> None:
    """A run still going when the warm process ends: SIGTERM (its session cleans up), then SIGKILL."""
    pid = _child_pid
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                time.sleep(0.05)
                continue
        return
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
