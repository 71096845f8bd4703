"""What task code may change in the test process, put back after each run.

Task code runs in the pytest process under ``dag.test()``: a ``chdir``, a ``sys.path`` entry, a
module it imported from the user's own files, Airflow ``conf.set(...)`` or the root log level would
otherwise leak into later tests.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import sysconfig
from collections.abc import Iterator

from pytest_xcom import _airflow

# Installed packages and the standard library: modules from there stay imported (Airflow imports
# much of itself lazily during a run; dropping those would only make the next run pay again).
_LIBRARY_DIRS = tuple(
    os.path.join(os.path.realpath(path), "")
    for path in {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _is_user_module(module: object) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    return not os.path.realpath(file).startswith(_LIBRARY_DIRS)


@contextlib.contextmanager
def process_state_restored() -> Iterator[None]:
    """Undo changes to the working directory, ``sys.path``, user modules, config and log level."""
    cwd = os.getcwd()
    path = list(sys.path)
    modules = set(sys.modules)
    root = logging.getLogger()
    level = root.level
    with _airflow.config_restored():
        try:
            yield
        finally:
            if os.getcwd() != cwd:
                with contextlib.suppress(OSError):  # the old directory may be gone: nothing to go back to
                    os.chdir(cwd)
            sys.path[:] = path
            for name in set(sys.modules) - modules:
                if _is_user_module(sys.modules.get(name)):
                    del sys.modules[name]
            root.setLevel(level)
