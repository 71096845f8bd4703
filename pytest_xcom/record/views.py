"""Views over one task's XComs: the pushes of a task, and how a mapped task expanded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_xcom.errors import XComLookupError
from pytest_xcom.record.events import RETURN_KEY, XComPush


class Pushes(list[XComPush]):
    """The XComs one task pushed: a list of :class:`XComPush` with a few helpers."""

    def __init__(self, task_id: str, pushes: list[XComPush], mapped: bool) -> None:
        super().__init__(pushes)
        self.task_id = task_id
        self.mapped = mapped

    @property
    def keys(self) -> set[str]:
        return {push.key for push in self}

    @property
    def values(self) -> dict[str, Any]:
        """key -> value; for a mapped task key -> list of values ordered by map_index."""
        if not self.mapped:
            return {push.key: push.value for push in self}
        result: dict[str, list[Any]] = {}
        for push in sorted(self, key=lambda p: p.map_index):
            result.setdefault(push.key, []).append(push.value)
        return result

    def get(self, key: str = RETURN_KEY, map_index: int | None = None) -> XComPush:
        """The single push of ``key`` (at ``map_index``); a clear error if absent or ambiguous."""
        __tracebackhide__ = True
        matches = [p for p in self if p.key == key and (map_index is None or p.map_index == map_index)]
        if not matches:
            where = f" at map_index={map_index}" if map_index is not None else ""
            raise XComLookupError(
                f"task {self.task_id!r} pushed no XCom with key {key!r}{where}; it pushed: {describe_keys(self)}"
            )
        indexes = sorted({p.map_index for p in matches})
        if len(indexes) > 1:
            raise XComLookupError(
                f"task {self.task_id!r} pushed key {key!r} at {len(indexes)} map indexes "
                f"{indexes}; pass map_index= to pick one"
            )
        return matches[-1]  # a re-push overwrites: the last one is what the DB holds


@dataclass(frozen=True)
class Expansion:
    """How a mapped task expanded."""

    task_id: str
    map_indexes: list[int]
    values: list[Any]
    states: list[str | None]

    @property
    def count(self) -> int:
        return len(self.map_indexes)


def describe_keys(pushes: list[XComPush]) -> str:
    if not pushes:
        return "nothing"
    by_key: dict[str, list[int]] = {}
    for push in pushes:
        by_key.setdefault(push.key, []).append(push.map_index)
    parts = []
    for key, indexes in sorted(by_key.items()):
        mapped = [i for i in indexes if i >= 0]
        parts.append(f"{key!r} (map indexes {sorted(set(mapped))})" if mapped else repr(key))
    return ", ".join(parts)


@dataclass(frozen=True)
class XComLoop:
    """How a task loop (Airflow 3.4's ``@task_group(...).loop(...)``) ran.

    ``values``: the terminal task's return value per iteration, in order (for a mapped terminal,
    every iteration's values by map index, one after the other): exactly the sequence a reader
    outside the loop receives. ``states``: the gate's state per iteration. ``reasons``: the
    ``LoopDecision`` reason per iteration, None where there was none. ``stopped_by``: "until" (the
    condition said stop), "max_iterations" (the cap ended it: a fixed-count loop's last iteration, or
    an ``until`` that never said stop) or "failed" (a task of an iteration failed).
    """

    group_id: str
    gate_task_id: str
    terminal_task_id: str
    max_iterations: int
    values: list[Any]
    states: list[str | None]
    reasons: list[str | None]
    stopped_by: str

    @property
    def count(self) -> int:
        """The iterations that ran."""
        return len(self.states)
