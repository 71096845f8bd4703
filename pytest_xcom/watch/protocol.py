"""The supervisor and the warm process talk in JSON lines over a pipe each way."""

from __future__ import annotations

import json
import os
from typing import Any, BinaryIO


def send(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def receive(stream: BinaryIO) -> dict[str, Any] | None:
    """The next message, or None when the other side closed its end (it exited)."""
    line = stream.readline()
    if not line:
        return None
    message: dict[str, Any] = json.loads(line)
    return message


def reader(fd: int) -> BinaryIO:
    return os.fdopen(fd, "rb", buffering=0)


def writer(fd: int) -> BinaryIO:
    return os.fdopen(fd, "wb", buffering=0)
