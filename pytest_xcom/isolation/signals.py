"""Signals: the session's cleanup on SIGTERM/SIGHUP, and the handlers a DAG run leaves, put back."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

# Signals whose default action ends the process: the harness removes what it made, then lets the
# process end of the signal as it would have.
TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install_termination_handlers(handlers: dict[int, tuple[Handler, Handler]], cleanup: Callable[[], None]) -> None:
    """On SIGTERM/SIGHUP, ``cleanup`` (remove the session's home and database), then end of the signal.

    ``handlers`` receives signal -> (the handler before, ours), for ``restore_termination_handlers``.
    """
    if not _main_thread():
        return
    owner = os.getpid()
    for signum in TERMINATING:
        before = signal.getsignal(signum)
        if before is None or before == signal.SIG_IGN:
            continue  # installed outside Python, or ignored on purpose (nohup): leave it
        ours = functools.partial(_on_termination, owner, cleanup, before)
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, ours)
            handlers[signum] = (before, ours)


def restore_termination_handlers(handlers: dict[int, tuple[Handler, Handler]]) -> None:
    if not _main_thread():
        return
    for signum, (before, ours) in handlers.items():
        if signal.getsignal(signum) is ours:  # one installed after ours is left to its owner
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, before)
    handlers.clear()


def _on_termination(
    owner: int, cleanup: Callable[[], None], before: Handler, signum: int, frame: FrameType | None
) -> None:
    if callable(before):
        # The embedding program's handler decides; if it raises (SystemExit), pytest unwinds and
        # releases the isolation as usual; if it returns, the session goes on with its DB.
        before(signum, frame)
        return
    if os.getpid() == owner:
        with contextlib.suppress(Exception):
            cleanup()
    _end_of(signum)


def _end_of(signum: int) -> None:
    """End the process of ``signum`` with its default action, as if no handler had been there."""
    signal.signal(signum, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    os.kill(os.getpid(), signum)
    time.sleep(1)  # delivered before kill() returns; this is for a signal whose default is not to end
    os._exit(128 + signum)


class _Chained:
    """A termination handler installed during a run, followed by the session's own."""

    chained = True

    def __init__(self, first: Callable[[int, FrameType | None], Any], then: Handler) -> None:
        self.first = first
        self.then = then

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        try:
            self.first(signum, frame)
        finally:
            if callable(self.then):
                self.then(signum, frame)
            elif self.then == signal.SIG_DFL:
                _end_of(signum)


@contextlib.contextmanager
def signal_handlers_restored() -> Iterator[None]:
    """Put back the process's signal handlers (and a pending alarm) once a DAG run is over.

    Airflow's task runner installs a SIGTERM handler for each task (it calls the operator's
    ``on_kill``) and leaves it; its ``execution_timeout`` sets a SIGALRM handler and cancels any
    alarm (pytest-timeout's). During the run, a SIGTERM/SIGHUP handler installed by Airflow or task
    code runs first, then the session's: the signal still ends the session, at once.
    """
    if not _main_thread():
        yield
        return
    saved: dict[int, Handler] = {signum: signal.getsignal(signum) for signum in signal.valid_signals()}
    alarm = signal.getitimer(signal.ITIMER_REAL) if hasattr(signal, "getitimer") else (0.0, 0.0)
    started = time.monotonic()
    install = signal.signal

    def chaining(signum: int, handler: Any) -> Any:
        outer = saved.get(signum)
        if (
            signum in TERMINATING
            and callable(handler)
            and not getattr(handler, "chained", False)
            and outer is not None
            and outer != signal.SIG_IGN
        ):
            handler = _Chained(handler, outer)
        return install(signum, handler)

    signal.signal = chaining  # type: ignore[assignment]
    try:
        yield
    finally:
        signal.signal = install
        for signum, handler in saved.items():
            if handler is not None and signal.getsignal(signum) != handler:
                with contextlib.suppress(ValueError, OSError, TypeError):
                    install(signum, handler)
        if alarm[0] > 0 and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
            left = alarm[0] - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), alarm[1])


class Interrupts:
    """Whether a SIGINT (the user's Ctrl-C) arrived while ``interrupts_watched`` was active."""

    received = False


@contextlib.contextmanager
def interrupts_watched() -> Iterator[Interrupts]:
    """Tell a real Ctrl-C from code that raises ``KeyboardInterrupt`` itself (a DAG file at import).

    SIGINT is noted, then handled as before (Python's default raises ``KeyboardInterrupt``); the
    handler in place before is put back at the end. Outside the main thread nothing is watched.
    """
    seen = Interrupts()
    if not _main_thread():
        yield seen
        return
    before = signal.getsignal(signal.SIGINT)
    if before is None:  # installed outside Python: left alone
        yield seen
        return

    def note(signum: int, frame: FrameType | None) -> Any:
        seen.received = True
        if callable(before):
            return before(signum, frame)
        if before == signal.SIG_DFL:
            _end_of(signum)
        return None  # SIG_IGN: ignored, as before

    signal.signal(signal.SIGINT, note)
    try:
        yield seen
    finally:
        if signal.getsignal(signal.SIGINT) is note:
            signal.signal(signal.SIGINT, before)
