"""Watching the paths for edits (watchfiles, a short debounce), in a thread of the supervisor."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# watchfiles yields once no new change has come for STEP_MS (an editor's save is often a burst of
# writes and renames), and at the latest after DEBOUNCE_MS of continuous changes.
STEP_MS = 50
DEBOUNCE_MS = 400
# How often the watching thread wakes (to see that it is asked to stop; the first wake says that
# the watch is set up), and the supervisor's wait (to see that the warm process is still there).
POLL_MS = 300

# Written by tools rather than by the user (beside watchfiles' own list: .git, __pycache__,
# .pytest_cache, .venv, node_modules, editors' swap files ...): a change there is no reason to run.
IGNORED_DIRS = frozenset({".eggs", "build", "dist", ".ruff_cache", ".nox", ".tox"})


def _project_filter() -> Callable[[Any, str], bool]:
    from watchfiles import DefaultFilter

    default = DefaultFilter()

    def accepts(change: Any, path: str) -> bool:
        parts = Path(path).parts
        if any(part in IGNORED_DIRS or part.startswith(".venv") or part.endswith(".egg-info") for part in parts):
            return False
        return default(change, path)

    return accepts


class Changes:
    """Batches of changed paths under ``paths``, collected from the moment the watch is set up."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self._batches: queue.Queue[set[str]] = queue.Queue()
        self._stop = threading.Event()
        self._watching = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pytest-xcom-watch", daemon=True)
        self._thread.start()
        self._watching.wait()  # an edit made after this returns is seen

    def _watch(self) -> None:
        from watchfiles import watch

        try:
            for changes in watch(
                *self.paths,
                watch_filter=_project_filter(),
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=self._stop,
                rust_timeout=POLL_MS,
                yield_on_timeout=True,  # the first yield (empty) comes once the watch is set up
                raise_interrupt=False,
            ):
                self._watching.set()
                if changes:
                    self._batches.put({path for _, path in changes})
        finally:
            self._watching.set()

    def forget_pending(self) -> None:
        """Drop what changed so far: after a run, the files it wrote itself (snapshots, reports).

        A run's last writes reach the queue up to one quiet step after it ended, so wait that long.
        """
        time.sleep(2 * STEP_MS / 1000)
        while True:
            try:
                self._batches.get_nowait()
            except queue.Empty:
                return

    def next(self, *, alive: Callable[[], bool]) -> set[str] | None:
        """The next batch of changed paths; None when ``alive()`` turns false while waiting."""
        while True:
            try:
                return self._batches.get(timeout=POLL_MS / 1000)
            except queue.Empty:
                if not self._thread.is_alive():
                    paths = ", ".join(map(str, self.paths))
                    raise SystemExit(f"pytest-xcom watch: the watch of {paths} ended") from None
                if not alive():
                    return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
