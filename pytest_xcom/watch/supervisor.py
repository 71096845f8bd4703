"""The supervisor: starts the warm process, asks it for runs, watches files, restarts it when stale.

It never forks from itself and never imports Airflow: it may hold threads (watchfiles has one).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psutil

from pytest_xcom.watch import changes, protocol
from pytest_xcom.watch.triggers import WarmState

READY = "pytest-xcom watch: ready"
# How long the warm process (and a run in progress) gets to end on SIGTERM before SIGKILL.
STOP_GRACE = 10.0
_WARM_MAIN = "import sys; from pytest_xcom.watch.warm import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Options:
    pytest_args: list[str]
    paths: list[Path] = field(default_factory=list)  # empty: the rootdir of the first run
    once: bool = False
    clear: bool = False


def say(message: str) -> None:
    print(f"pytest-xcom watch: {message}", flush=True)


class WarmProcess:
    """One warm process and the two pipes to it."""

    def __init__(self) -> None:
        to_warm_r, to_warm_w = os.pipe()
        from_warm_r, from_warm_w = os.pipe()
        sys.stdout.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WARM_MAIN, str(to_warm_r), str(from_warm_w)],
            pass_fds=(to_warm_r, from_warm_w),
            stdin=subprocess.DEVNULL,
        )
        os.close(to_warm_r)
        os.close(from_warm_w)
        self.outbox = protocol.writer(to_warm_w)
        self.inbox = protocol.reader(from_warm_r)
        self.state: WarmState | None = None
        self.hazards: list[str] = []
        self.seconds = 0.0
        self.rootdir: str | None = None

    def wait_ready(self) -> bool:
        message = protocol.receive(self.inbox)
        if message is None or "ready" not in message:
            return False
        ready = message["ready"]
        self.state = WarmState.taken(ready["modules"], ready["sys_path"])
        self.hazards = list(ready.get("hazards", []))
        self.seconds = float(ready["seconds"])
        return True

    def run(self, args: list[str]) -> int | None:
        """The run's exit code; None when the warm process is gone."""
        try:
            protocol.send(self.outbox, {"run": args})
            while True:
                message = protocol.receive(self.inbox)
                if message is None:
                    return None
                if "rootdir" in message:
                    self.rootdir = message["rootdir"]
                if "exit" in message:
                    return int(message["exit"])
        except (BrokenPipeError, ConnectionResetError):
            return None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM (it ends a run in progress the same way), then SIGKILL for all that is left."""
        with contextlib.suppress(OSError):
            self.outbox.close()
        family = _descendants(self.process.pid)
        if self.alive():
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_GRACE)
        for process in [*family, psutil.Process(self.process.pid) if self.alive() else None]:
            if process is not None:
                with contextlib.suppress(psutil.Error):
                    process.kill()
        self.process.wait()
        with contextlib.suppress(OSError):
            self.inbox.close()
        _sweep()


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _sweep() -> None:
    """Whatever a killed run left in /dev/shm (named after a process that is gone now)."""
    from pytest_xcom.isolation.env import memory_dir
    from pytest_xcom.isolation.owners import sweep_leftovers

    sweep_leftovers(memory_dir())


def _start() -> WarmProcess:
    started = time.perf_counter()
    warm = WarmProcess()
    if not warm.wait_ready():
        warm.stop()
        raise SystemExit("pytest-xcom watch: the warm process could not start (its error is above)")
    if warm.hazards:
        say(f"warning: the warm process holds {'; '.join(warm.hazards)}; runs cannot be forked from it")
    say(f"warm in {time.perf_counter() - started:.1f} s")
    return warm


def _on_terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # one way out for SIGINT and SIGTERM: the finally below


def watch(options: Options) -> int:
    """Run, wait for a change, run again ... until Ctrl-C/SIGTERM (or after one re-run with --once)."""
    signal.signal(signal.SIGTERM, _on_terminate)
    warm: WarmProcess | None = None
    watched: changes.Changes | None = None
    try:
        warm = _start()
        code = _run(warm, options, first=True)
        watched = changes.Changes(options.paths or [Path(warm.rootdir or os.getcwd())])
        while True:
            watched.forget_pending()
            print(f"{READY}; watching {', '.join(map(str, watched.paths))} (Ctrl-C ends)", flush=True)
            was_alive = warm.alive()  # a warm process gone during the run waits for the next change
            changed = watched.next(alive=warm.alive if was_alive else lambda: True)
            assert warm.state is not None
            reason = "the warm process ended" if changed is None or not was_alive else None
            reason = reason or warm.state.stale_because(changed or ())
            if reason:
                say(f"restarting the warm process: {reason}")
                warm.stop()
                warm = None
                warm = _start()
            code = _run(warm, options, first=False)
            if options.once:
                return code
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if watched is not None:
            watched.close()
        if warm is not None:
            warm.stop()


def _run(warm: WarmProcess, options: Options, *, first: bool) -> int:
    if options.clear and not first:
        print("\033[2J\033[H", end="", flush=True)
    code = warm.run(options.pytest_args)
    if code is None:
        say("the warm process ended during the run; it starts again on the next change")
        return 1
    return code
