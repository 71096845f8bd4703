"""Airflow's own log output during one run, kept per task instance (``--xcom-airflow-logs``).

``all`` leaves Airflow's output alone: every line goes to stdout and pytest's log capture, as
without the harness. ``failed`` and ``none`` take it while the run lasts (the task code's own
``print`` output stays on stdout) and keep it here: ``failed`` then shows the log of each task
instance that failed, one report section each, and the whole run's log when ``dag.test()`` itself
raised; ``none`` shows nothing.
"""

from __future__ import annotations

import threading
from typing import Any

from pytest_xcom.record.events import instance_label

Where = tuple[str, int, Any]  # (task_id, map_index, region): a loop's iterations differ in region

AIRFLOW_LOG_MODES = ("failed", "all", "none")
_NOT_FAILED = frozenset({"success", "skipped", "deferred", "up_for_retry", "up_for_reschedule"})


class RunLog:
    """Lines of Airflow's log during one run, by the task instance running when they were written.

    Lines written while no task instance runs (the DAG run's own: creating it, scheduling, its end)
    belong to the run. The execution API answers from another thread while a task instance runs:
    its lines are that task instance's, as they are about it.
    """

    def __init__(self) -> None:
        self.run_lines: list[str] = []
        self._lines: dict[Where, list[str]] = {}
        self._states: dict[Where, str] = {}
        self._first_try: dict[Where, int] = {}
        self.iterations: dict[Any, int] = {}  # region -> loop iteration, filled in after the run
        self._current: list[str] | None = None
        self._lock = threading.Lock()

    def task_started(self, task_id: str, map_index: int, try_number: int, region: Any = None) -> None:
        where = (task_id, map_index, region)
        lines = self._lines.setdefault(where, [])
        first = self._first_try.setdefault(where, try_number)
        if try_number != first:  # a retry: each try under its own heading
            if not lines or lines[0] != f"--- try {first} ---":
                lines.insert(0, f"--- try {first} ---")
            lines.append(f"--- try {try_number} ---")
        self._current = lines

    def task_ended(self, task_id: str, map_index: int, state: str, region: Any = None) -> None:
        self._states[(task_id, map_index, region)] = state
        self._current = None

    def write(self, text: str) -> None:
        with self._lock:
            target = self._current if self._current is not None else self.run_lines
            target.extend(text.rstrip("\n").split("\n"))

    def failed_instances(self) -> list[Where]:
        """The task instances whose last try did not succeed, in the order they ran."""
        return [where for where, state in self._states.items() if state not in _NOT_FAILED]

    def _label(self, where: Where) -> str:
        task_id, map_index, region = where
        return instance_label(task_id, map_index, self.iterations.get(region))

    def sections(self, dag_id: str, *, run_raised: bool, prefix: str = "Airflow log") -> list[tuple[str, str]]:
        """(title, text) of what ``failed`` shows: each failed task instance's log, and the run's own
        log when ``dag.test()`` raised (the task instances never got to say why)."""
        found = [
            (f"{prefix}: {self._label(where)}", "\n".join(self._lines[where]))
            for where in self.failed_instances()
            if where in self._lines
        ]
        if run_raised:
            found.append((f"{prefix}: DAG run {dag_id!r}", "\n".join(self.run_lines)))
        return [(title, text) for title, text in found if text.strip()]
