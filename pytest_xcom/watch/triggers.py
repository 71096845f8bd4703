"""When the warm process is stale and must be started again, and how each case is seen.

- A module it imported changed: its source files (``__file__`` of every module in ``sys.modules``
  after warm-up) are listed once; a watched change to one of them, or, before every run, a
  changed modification time or size of any of them (an edit outside the watched paths, a
  ``pip install`` over an installed file).
- Installed distributions or the Python path changed: before every run, a fingerprint of the
  ``*.dist-info``/``*.egg-info`` directories, ``*.pth`` and ``*.egg-link`` files in each directory of
  the warm process's ``sys.path`` (names and modification times), and of the interpreter's
  ``pyvenv.cfg``, is compared with the one taken at warm-up.
- The environment: the warm process has the supervisor's environment variables, which nothing
  outside can change; after changing one (``PYTHONPATH`` too), start ``pytest-xcom watch`` again.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_INSTALL_SUFFIXES = (".dist-info", ".egg-info", ".pth", ".egg-link")


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def installed_fingerprint(sys_path: Iterable[str]) -> str:
    """What is installed where the warm process imports from (see the module docstring)."""
    digest = hashlib.sha256()
    places = [*sys_path, os.path.join(sys.prefix, "pyvenv.cfg")]
    for place in places:
        digest.update(f"\0{place}".encode())
        try:
            entries = sorted(os.scandir(place), key=lambda entry: entry.name)
        except (NotADirectoryError, FileNotFoundError, PermissionError):
            digest.update(repr(_stamp(place)).encode())
            continue
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(_INSTALL_SUFFIXES):
                digest.update(f"{entry.name}:{_stamp(entry.path)}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class WarmState:
    """What a warm process was built from, as it reported after warming up."""

    modules: dict[str, tuple[int, int] | None]  # source file -> (mtime_ns, size) at warm-up
    sys_path: tuple[str, ...]
    installed: str

    @classmethod
    def taken(cls, modules: Iterable[str], sys_path: Iterable[str]) -> WarmState:
        paths = tuple(sys_path)
        return cls({path: _stamp(path) for path in modules}, paths, installed_fingerprint(paths))

    def stale_because(self, changed: Iterable[str] = ()) -> str | None:
        """Why the warm process no longer matches the files (None: it does)."""
        for path in changed:
            real = os.path.realpath(path)
            if real in self.modules:
                return f"{Path(path).name} changed, and the warm process imported it"
        if installed_fingerprint(self.sys_path) != self.installed:
            return "the installed distributions or .pth files changed"
        for path, stamp in self.modules.items():
            if _stamp(path) != stamp:
                return f"{path} changed, and the warm process imported it"
        return None
