"""What task code and test bodies may change in the test process, put back afterwards.

Task code runs in the pytest process under ``dag.test()``: a ``chdir``, a ``sys.path`` entry, a
module it imported from the user's own files, a name it put into ``sys.modules``, Airflow
``conf.set(...)`` or the root log level would otherwise leak into later tests. After each run all of
that is undone (:func:`process_state_restored`); after each test's body, what a test body itself
may leak that way: Airflow config and ``sys.modules`` entries (:func:`body_state_restored`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import sysconfig
from collections.abc import Iterator
from typing import Any

from pytest_xcom import _airflow

# Installed packages and the standard library: modules from there stay imported (Airflow imports
# much of itself lazily during a run; dropping those would only make the next run pay again).
_LIBRARY_DIRS = tuple(
    os.path.join(os.path.realpath(path), "")
    for path in {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _is_library_module(module: object) -> bool:
    if getattr(module, "__name__", None) in sys.builtin_module_names:
        return True
    file = getattr(module, "__file__", None)
    paths = list(getattr(module, "__path__", None) or ())  # a namespace package has no __file__
    return any(os.path.realpath(p).startswith(_LIBRARY_DIRS) for p in ([file] if file else paths))


def _is_user_module(module: object) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    return not os.path.realpath(file).startswith(_LIBRARY_DIRS)


def _is_user_alias(name: str, module: object) -> bool:
    """``sys.modules["x"] = json``: an entry under another name than its module's, outside any library.

    Libraries register aliases of their own (``six.moves``...) once, at import: those stay.
    """
    if getattr(module, "__name__", None) == name:
        return False
    top = sys.modules.get(name.partition(".")[0])
    return top is None or top is module or not _is_library_module(top)


@contextlib.contextmanager
def modules_restored(*, drop_user_modules: bool) -> Iterator[None]:
    """Put back ``sys.modules`` entries the block replaced and drop aliases it added; with
    ``drop_user_modules``, also drop modules it imported from the user's own files."""
    before: dict[str, Any] = dict(sys.modules)
    try:
        yield
    finally:
        for name, module in list(sys.modules.items()):
            if name in before:
                if module is not before[name]:
                    sys.modules[name] = before[name]
            elif _is_user_alias(name, module) or (drop_user_modules and _is_user_module(module)):
                del sys.modules[name]


@contextlib.contextmanager
def process_state_restored() -> Iterator[None]:
    """Undo changes to the working directory, ``sys.path``, user modules, config and log level."""
    cwd = os.getcwd()
    path = list(sys.path)
    root = logging.getLogger()
    level = root.level
    with _airflow.config_restored(), modules_restored(drop_user_modules=True):
        try:
            yield
        finally:
            if os.getcwd() != cwd:
                with contextlib.suppress(OSError):  # the old directory may be gone: nothing to go back to
                    os.chdir(cwd)
            sys.path[:] = path
            root.setLevel(level)


@contextlib.contextmanager
def body_state_restored() -> Iterator[None]:
    """Undo what a test body changed in Airflow's config and in ``sys.modules`` (aliases, replaced
    entries). Modules the body imported stay imported, as pytest users expect."""
    with _airflow.config_restored(), modules_restored(drop_user_modules=False):
        yield
