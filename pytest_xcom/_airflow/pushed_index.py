"""What has been pushed so far in a run, as reads need it: by task, key, loop iteration, map index.

A read names a task and key, sometimes a map index or an offset into a sequence; which instance it
read follows from what exists at that moment. This index answers that in one lookup per read,
without scanning the run's pushes.
"""

from __future__ import annotations

from typing import Any

from pytest_xcom._airflow.sink import Instance

ALL_ITERATIONS = "all"  # the scope of a read from outside a loop: every iteration, as one sequence

Position = tuple[int | None, int]  # (iteration, map index)


class PushedIndex:
    def __init__(self) -> None:
        # (task_id, key) -> iteration (None outside loops) -> map index -> attempt that pushed it
        self._pushed: dict[tuple[str, str], dict[int | None, dict[int, int]]] = {}
        # (task_id, key, scope) -> sorted positions, kept until the next push of that XCom: a fan-in
        # reads a mapped upstream item by item, and sorting for each read is quadratic.
        self._sorted: dict[tuple[str, str, Any], list[Position]] = {}

    def add(self, task_id: str, key: str, iteration: int | None, map_index: int, attempt: int) -> None:
        self._pushed.setdefault((task_id, key), {}).setdefault(iteration, {})[map_index] = attempt
        for cached in [where for where in self._sorted if where[:2] == (task_id, key)]:
            del self._sorted[cached]

    def has(self, task_id: str, key: str, iteration: int | None, map_index: int) -> bool:
        return map_index in self._pushed.get((task_id, key), {}).get(iteration, {})

    def last_iteration(self, task_id: str, key: str) -> int | None:
        """The latest loop iteration that pushed this XCom so far (None outside loops)."""
        return max((i for i in self._pushed.get((task_id, key), {}) if i is not None), default=None)

    def forget_earlier_attempts(self, instance: Instance) -> None:
        """A new attempt of ``instance`` started: an earlier attempt's XComs are no longer what readers see."""
        for (task_id, _key), by_iteration in self._pushed.items():
            if task_id != instance.task_id:
                continue
            indexes = by_iteration.get(instance.iteration, {})
            if indexes.get(instance.map_index, instance.try_number) < instance.try_number:
                del indexes[instance.map_index]
        self._sorted.clear()

    def positions(self, task_id: str, key: str, scope: Any) -> list[Position]:
        """The (iteration, map index) a sequence read walks, in order: one iteration's map indexes
        (``scope`` an iteration, or None outside loops), or every iteration's (``ALL_ITERATIONS``)."""
        where = (task_id, key, scope)
        if where not in self._sorted:
            pushed = self._pushed.get((task_id, key), {})
            if scope == ALL_ITERATIONS:
                positions = [(i, m) for i, indexes in pushed.items() if i is not None for m in indexes]
            else:
                positions = [(scope, m) for m in pushed.get(scope, {})]
            self._sorted[where] = sorted(positions, key=lambda p: (p[0] if p[0] is not None else -1, p[1]))
        return self._sorted[where]
