"""Snapshot files: where a test's file lives, and reading and writing its entries.

Layout: ``<test dir>/__xcom_snapshots__/<module stem>/<test name>.json``, one file per test.
A test in a class is ``TestClass.test_name``; a name with characters outside
``[A-Za-z0-9_.,=+[]-]`` (or longer than 150 characters) has them replaced by ``_`` and gets
``-<8 hex of the real name's sha1>``, so two tests never share a file. The file maps entry
names to manifests: ``"1"``, ``"2"``... for the unnamed ``assert_match`` calls of the test, in
order, or the ``name=`` given. JSON with two-space indents, sorted keys and a trailing newline.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_xcom.errors import SnapshotError

SNAPSHOT_DIR = "__xcom_snapshots__"
UPDATE_FLAG = "--xcom-snapshot-update"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+\[\]-]")


def file_name_for(test_name: str) -> str:
    """``TestClass::test_x[id]`` -> ``TestClass.test_x[id].json``, safe on every filesystem."""
    plain = test_name.replace("::", ".")
    safe = _UNSAFE.sub("_", plain)
    if safe != plain or len(safe) > 150:
        safe = f"{safe[:150]}-{hashlib.sha1(test_name.encode('utf-8')).hexdigest()[:8]}"
    return safe + ".json"


def snapshot_path(module: Path, test_name: str) -> Path:
    return module.parent / SNAPSHOT_DIR / module.stem / file_name_for(test_name)


def item_location(item: pytest.Item) -> tuple[Path, str]:
    """(module file, test name inside it) of a test item."""
    return Path(item.path).resolve(), item.nodeid.split("::", 1)[-1]


def dumps(entries: dict[str, Any]) -> str:
    return json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class SnapshotIsADirectoryError(SnapshotError):
    """The snapshot path is a directory: nothing is read from it, written to it or deleted."""


def read_entries(path: Path) -> dict[str, Any]:
    """The entries of a snapshot file ({} when there is none)."""
    if path.is_dir():
        raise SnapshotIsADirectoryError(f"{path} is a directory, not a snapshot file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        raise SnapshotError(f"{path} is not valid UTF-8 (byte 0x{bad} at offset {exc.start})") from None
    except OSError as exc:
        raise SnapshotError(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SnapshotError(f"{path} is not JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SnapshotError(f"{path} is not a JSON object of snapshot entries")
    return data


def write_entries(path: Path, entries: dict[str, Any]) -> None:
    """Write the file, or delete it (and directories it leaves empty) when no entry is left.

    A :class:`SnapshotError` when it cannot; a directory at ``path`` is never replaced or deleted.
    """
    if path.is_dir():
        raise SnapshotIsADirectoryError(f"{path} is a directory, not a snapshot file")
    try:
        if entries:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dumps(entries), encoding="utf-8")
            return
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise SnapshotError(f"{path} cannot be {'written' if entries else 'deleted'} ({exc.strerror or exc})") from None
    for folder in (path.parent, path.parent.parent):
        try:
            folder.rmdir()
        except OSError:
            break  # not empty (or already gone)
