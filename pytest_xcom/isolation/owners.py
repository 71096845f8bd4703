"""Whose files and databases are these, and is that process still running? The start-up sweep."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import socket
import stat
from pathlib import Path

import psutil

_DIR_NAME = re.compile(r"pytest-xcom-(\d+)-([0-9a-f]{8})-([0-9a-z]+)-[0-9a-z_]+\Z")
_LEGACY_DIR_NAME = re.compile(r"pytest-xcom-(\d+)-[0-9a-z_]{8}\Z")  # before owners were named in full
_DATABASE_NAME = re.compile(r"pytest_xcom_(\d+)_([0-9a-f]{8})_([0-9a-z]+)_[0-9a-z]+\Z")


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): the unit only has to be stable
        return 100


_CLOCK_TICKS = _clock_ticks()


def _start_ticks(process: psutil.Process) -> int | None:
    """When a process started, in clock ticks after boot: the unit owner names have always used
    (Linux's /proc/<pid>/stat field 22, which psutil's create_time is computed from)."""
    try:
        return int(round((process.create_time() - psutil.boot_time()) * _CLOCK_TICKS))
    except (psutil.Error, OSError, ValueError):
        return None


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


@functools.lru_cache(maxsize=1)
def _machine() -> str:
    """This machine as its processes see it: host name, boot id and pid namespace (8 hex digits).

    Two sessions with the same token see the same processes under the same pids, so one can tell
    whether the other is still running; leftovers with another token are never touched.
    """
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


def _owner(separator: str, pid: int | None = None) -> str:
    """A process (this one) as the owner of what it makes: pid, machine and start time ('0': not known)."""
    pid = os.getpid() if pid is None else pid
    try:
        ticks = _start_ticks(psutil.Process(pid))
    except psutil.Error:
        ticks = None
    return separator.join((str(pid), _machine(), _base36(ticks) if ticks is not None else "0"))


def _running(pid: int, started: str) -> bool:
    """Whether the process that made a leftover still runs (a reused pid is another process)."""
    if pid <= 1:
        return True  # not a pid a session has: never touch it
    try:
        process = psutil.Process(pid)
        status = process.status()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # it exists, and we may not look closer: taken to be the owner
    if status in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
        return False  # exited; only its parent has not collected it yet
    ticks = _start_ticks(process)
    if ticks is None:
        return True  # it just ended, or its start time is unknown: a live pid is taken to be the owner
    return started == "0" or _base36(ticks) == started


def is_leftover_database(name: str) -> bool:
    """Whether ``name`` is the database of a pytest-xcom session of this machine that has ended."""
    match = _DATABASE_NAME.match(name)
    return match is not None and match[2] == _machine() and not _running(int(match[1]), match[3])


def _leftover_dir(name: str) -> bool:
    match = _DIR_NAME.match(name)
    if match:
        return match[2] == _machine() and not _running(int(match[1]), match[3])
    match = _LEGACY_DIR_NAME.match(name)
    return match is not None and not _running(int(match[1]), "0")


def sweep_leftovers(directory: str) -> list[str]:
    """Remove the directories that ended sessions of this machine left in ``directory`` (own user's only)."""
    removed: list[str] = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        entries = [entry for entry in os.scandir(directory) if entry.name.startswith("pytest-xcom-")]
    except OSError:
        return removed
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
            continue
        if _leftover_dir(entry.name):
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.lexists(entry.path):
                removed.append(entry.path)
    return removed
