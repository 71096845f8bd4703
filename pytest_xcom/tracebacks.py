"""A user's input error shows the user's frames, not the harness's.

An :class:`~pytest_xcom.errors.XComError` (a DAG file that does not import, a backend that does
not exist, ...) is the user's mistake: what helps is the line of their test or conftest that made
it, and the message. The frames of pytest-xcom itself, of Airflow's machinery, and of the
``contextlib`` and ``importlib`` plumbing between them are taken out of its traceback and of the
tracebacks of the exceptions it was raised from (a cause left with no frame of the user's is not
shown: the error's message already says what it was), as ``__tracebackhide__`` does for pytest's
own helpers. Any other exception, a bug of the harness included, keeps every frame, and
``--full-trace`` shows them all.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from pytest_xcom import _airflow
from pytest_xcom.errors import XComError

if TYPE_CHECKING:
    import pytest

_HARNESS = os.path.join(str(Path(__file__).resolve().parent), "")
_PLUMBING = (str(Path(contextlib.__file__).resolve()), os.path.join(str(Path(importlib.__file__).resolve().parent), ""))


def is_harness_frame(filename: str) -> bool:
    """Whether a frame of ``filename`` is pytest-xcom's own code or the plumbing between its frames."""
    if filename.startswith("<frozen importlib"):
        return True
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return resolved.startswith((_HARNESS, *_PLUMBING))


def is_machinery_frame(filename: str) -> bool:
    """Whether a frame is the harness's or Airflow's own (task runner, operators, dag.test()), not the user's."""
    if is_harness_frame(filename):
        return True
    return "airflow" in sys.modules and _airflow.is_airflow_frame(filename)  # no Airflow loaded: no Airflow frame


def user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` with the user's frames only (None when it has none)."""
    kept: list[TracebackType] = []
    while tb is not None:
        if not is_machinery_frame(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    rebuilt: TracebackType | None = None
    for entry in reversed(kept):
        rebuilt = TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def hide_harness_frames(excinfo: pytest.ExceptionInfo[BaseException], config: pytest.Config) -> None:
    """Take the harness's frames out of an input error's report (nothing else is touched)."""
    if not isinstance(excinfo.value, XComError) or config.getoption("fulltrace", False):
        return
    from _pytest._code import Traceback  # pytest's own; it cuts at the test from the raw frames

    own = user_traceback(excinfo.tb)
    if own is not None:
        excinfo.traceback = Traceback(own)
    seen: set[int] = {id(excinfo.value)}
    effect: BaseException = excinfo.value
    cause = _shown_cause(effect)
    while cause is not None and id(cause) not in seen:  # the chain pytest prints before it
        seen.add(id(cause))
        trimmed = user_traceback(cause.__traceback__)
        if trimmed is None:  # raised in the harness alone: its message is already in the error's
            effect.__cause__, effect.__suppress_context__ = None, True
            return
        cause.__traceback__ = trimmed
        effect, cause = cause, _shown_cause(cause)


def _shown_cause(exc: BaseException) -> BaseException | None:
    if exc.__cause__ is not None:
        return exc.__cause__
    return None if exc.__suppress_context__ else exc.__context__
