"""The events of a run's XCom traffic: pushes, reads and deletes. Pure data: no Airflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RETURN_KEY = "return_value"


def instance_label(task_id: str, map_index: int | None) -> str:
    """``task[2]`` for a mapped task instance, ``task`` otherwise: how every report names one."""
    return f"{task_id}[{map_index}]" if map_index is not None and map_index >= 0 else task_id


@dataclass(frozen=True)
class XComPush:
    """One XCom written by a task instance."""

    task_id: str
    map_index: int
    key: str
    value: Any
    size: int
    stored: Any
    stored_size: int
    offloaded: bool
    json_serializable: bool
    type_name: str = ""
    sha256: str = ""

    @property
    def label(self) -> str:
        return f"{instance_label(self.task_id, self.map_index)} key {self.key!r}"


@dataclass(frozen=True)
class XComPull:
    """One XCom read by a task instance (``kind``: "explicit" or "argument")."""

    task_id: str
    map_index: int
    source_task_id: str
    source_map_index: int | None
    key: str
    kind: str
    found: bool
    task_ids_explicit: bool = True
    received_type: str | None = None  # type of what the read handed to the task (None: lazy)

    def reads(self, push: XComPush) -> bool:
        """Whether this read found ``push`` (a read of every map index finds each of them)."""
        return (
            self.found
            and self.source_task_id == push.task_id
            and self.key == push.key
            and self.source_map_index in (None, push.map_index)
        )


@dataclass(frozen=True)
class XComDelete:
    """One XCom deleted, with the task instance that deleted it (None: the harness/Airflow)."""

    task_id: str
    map_index: int | None
    key: str
    by_task_id: str | None = None
    by_map_index: int | None = None
    purged: bool = False
