"""Waiting for the next edit under the watched paths (watchfiles, a short debounce)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# watchfiles yields once no new change has come for STEP_MS (an editor's save is often a burst of
# writes and renames), and at the latest after DEBOUNCE_MS of continuous changes.
STEP_MS = 50
DEBOUNCE_MS = 400
# How often the wait wakes to check that the warm process is still there.
POLL_MS = 500

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


def next_change(paths: Sequence[Path], *, alive: Callable[[], bool]) -> set[str] | None:
    """The paths of the next batch of changes; None when ``alive()`` turns false while waiting.

    A KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one) ends the wait.
    """
    from watchfiles import watch

    for changes in watch(
        *paths,
        watch_filter=_project_filter(),
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        rust_timeout=POLL_MS,
        yield_on_timeout=True,
        raise_interrupt=True,
    ):
        if changes:
            return {path for _, path in changes}
        if not alive():
            return None
    return None
