"""A run: the child forked from the warm process runs ``pytest.main(args)`` and exits with its code."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from typing import Any, BinaryIO

from pytest_xcom import gc_tuning
from pytest_xcom.watch import protocol

# pytest's "internal error" exit code: what the child reports when pytest itself could not run.
INTERNAL_ERROR = 3


class _RootdirReport:
    """Tells the supervisor the session's rootdir (the default path to watch), once configured."""

    def __init__(self, report: BinaryIO) -> None:
        self._report = report

    def pytest_configure(self, config: Any) -> None:
        with contextlib.suppress(OSError):
            protocol.send(self._report, {"rootdir": str(config.rootpath)})


def run(args: list[str], report: BinaryIO) -> None:
    """In the freshly forked child: behave as a new ``pytest ARGS`` process would, then exit.

    ``report``: the warm process's pipe to the supervisor (the rootdir goes there).

    Never returns: ``os._exit`` keeps the warm process's atexit hooks and buffered files (inherited
    by the fork) from running a second time here.
    """
    code = INTERNAL_ERROR
    try:
        # The warm process ends on SIGINT/SIGTERM through handlers of its own; a run gets Python's
        # defaults back, so Ctrl-C is pytest's KeyboardInterrupt and the plugin's SIGTERM cleanup
        # wraps the default action, as in a new process.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # The warm process gave its thresholds back and froze its heap; this run's start-up is
        # deferred again until its first test ends, as the plugin does in a cold process.
        gc_tuning.defer_collections()
        sys.argv = ["pytest", *args]
        import pytest

        _no_rewrite_warning_for(set(sys.modules))

        code = int(pytest.main(args, plugins=[_RootdirReport(report)]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else INTERNAL_ERROR
    except BaseException:  # a KeyboardInterrupt outside pytest's own handling too: said, then exit
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed terminal: nothing left to say it on
                stream.flush()
        os._exit(code)


def _no_rewrite_warning_for(preloaded: set[str]) -> None:
    """No "Module already imported so cannot be rewritten" for what the warm process imported.

    pytest rewrites the asserts of installed plugins as it imports them; the warm process imported
    them before any pytest session (the point of it), so their asserts stay plain. That is all the
    warning would say, once per plugin and run: it is kept for modules the run itself imports.
    """
    from _pytest.assertion.rewrite import AssertionRewritingHook

    original = AssertionRewritingHook._warn_already_imported

    def warn(self: AssertionRewritingHook, name: str) -> None:
        if name not in preloaded:
            original(self, name)

    AssertionRewritingHook._warn_already_imported = warn  # type: ignore[method-assign]
