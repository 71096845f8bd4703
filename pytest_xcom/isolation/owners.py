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

_DIR_NAME = re.compile(r"pytest-xcom-(\d+)-([0-9a-f]{8})-([0-9a-z]+)-[0-9a-z_]+\Z")
_LEGACY_DIR_NAME = re.compile(r"pytest-xcom-(\d+)-[0-9a-z_]{8}\Z")  # before owners were named in full
_DATABASE_NAME = re.compile(r"pytest_xcom_(\d+)_([0-9a-f]{8})_([0-9a-z]+)_[0-9a-z]+\Z")


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and start time (clock ticks after boot), from Linux's /proc."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
        fields = data[data.rindex(b")") + 2 :].split()  # the command name may hold spaces and parentheses
        return fields[0].decode(), int(fields[19])
    except (OSError, ValueError, IndexError):
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
    found = _proc_stat(pid)
    return separator.join((str(pid), _machine(), _base36(found[1]) if found else "0"))


def _running(pid: int, started: str) -> bool:
    """Whether the process that made a leftover still runs (a reused pid is another process)."""
    if pid <= 1:
        return True  # not a pid a session has: never touch it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # it exists, under another user
    found = _proc_stat(pid)
    if found is None:
        return True  # no /proc (or it just ended): a live pid is taken to be the owner
    state, start = found
    if state in ("Z", "X"):
        return False  # exited; only its parent has not collected it yet
    return started == "0" or _base36(start) == started


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
