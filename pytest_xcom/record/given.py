"""Partial runs: which tasks run, and the XComs the test gives in place of the others. Pure Python.

``xcom.run(dag, tasks=[...], upstream=...)`` runs only ``tasks``; every other task is marked
success without running, and ``upstream`` supplies the XComs those tasks would have pushed. This
module checks what the test asked for against the DAG's task ids; writing the XComs is the
Airflow adapter's business.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any

from pytest_xcom.errors import XComValueError
from pytest_xcom.record.events import RETURN_KEY, instance_label


@dataclass(frozen=True)
class Given:
    """An XCom that exists when a partial run starts, as if ``task_id`` had pushed it.

    ``xcom.run(dag, tasks=["load"], upstream=[Given("split", [1, 2, 3])])``; ``key`` and
    ``map_index`` place it like a push of that key by that map index of the task.
    """

    task_id: str
    value: Any
    _: KW_ONLY
    key: str = RETURN_KEY
    map_index: int = -1

    @property
    def label(self) -> str:
        """How errors and reports name it: ``Given('split')``, ``Given('load', key='k', map_index=2)``."""
        extra = "" if self.key == RETURN_KEY else f", key={self.key!r}"
        extra += "" if self.map_index == -1 else f", map_index={self.map_index}"
        return f"Given({self.task_id!r}{extra})"

    @property
    def where(self) -> str:
        return f"{instance_label(self.task_id, self.map_index)} key {self.key!r}"


@dataclass(frozen=True)
class PartialRun:
    """What a partial run does: the tasks that run, those marked success, and the given XComs."""

    run: tuple[str, ...]
    marked_success: tuple[str, ...]
    given: tuple[Given, ...]


def plan_partial_run(dag_id: str, task_ids: Sequence[str], tasks: Any, upstream: Any) -> PartialRun | None:
    """Check ``tasks=`` and ``upstream=`` against the DAG; None for a normal (whole) run."""
    __tracebackhide__ = True
    if tasks is None:
        if upstream is not None:
            raise XComValueError(
                "upstream= gives XComs in place of tasks that do not run, so it needs tasks= too: "
                "the ids of the tasks to run, e.g. xcom.run(dag, tasks=['transform'], upstream={'extract': ...})"
            )
        return None
    chosen = _task_list(dag_id, task_ids, tasks)
    given = given_xcoms(upstream)
    running = set(chosen)
    for item in given:
        if item.task_id not in task_ids:
            raise XComValueError(
                f"upstream {item.label}: task {item.task_id!r} is not in DAG {dag_id!r}"
                f"{_did_you_mean(item.task_id, task_ids)}. Its tasks are: {', '.join(task_ids)}"
            )
        if item.task_id in running:
            raise XComValueError(
                f"upstream {item.label}: task {item.task_id!r} runs in this partial run (it is in tasks=), "
                "so it pushes its own XComs; give XComs only for tasks that do not run, "
                f"or leave {item.task_id!r} out of tasks="
            )
    return PartialRun(
        run=tuple(t for t in task_ids if t in running),
        marked_success=tuple(t for t in task_ids if t not in running),
        given=tuple(given),
    )


def _task_list(dag_id: str, task_ids: Sequence[str], tasks: Any) -> list[str]:
    __tracebackhide__ = True
    if isinstance(tasks, str):
        tasks = [tasks]
    if not isinstance(tasks, Iterable) or isinstance(tasks, Mapping):
        raise XComValueError(f"tasks= takes an iterable of task ids, e.g. tasks=['transform'], not {tasks!r}")
    chosen = list(tasks)
    if not chosen:
        raise XComValueError(
            f"tasks= is empty: name the task(s) of DAG {dag_id!r} to run (tasks=None runs them all). "
            f"Its tasks are: {', '.join(task_ids)}"
        )
    for task_id in chosen:
        if not isinstance(task_id, str):
            raise XComValueError(f"tasks= takes task ids (strings), got {task_id!r} ({type(task_id).__name__})")
    unknown = [t for t in dict.fromkeys(chosen) if t not in task_ids]
    if unknown:
        hints = ", ".join(repr(t) + _did_you_mean(t, task_ids) for t in unknown)
        grouped = next((t for t in task_ids if "." in t), None)
        note = f" (task-group members by their full id, e.g. {grouped!r})" if grouped else ""
        raise XComValueError(
            f"tasks= names task(s) not in DAG {dag_id!r}: {hints}. Its tasks are: {', '.join(task_ids)}{note}"
        )
    return chosen


def _close(task_id: str, task_ids: Sequence[str]) -> list[str]:
    """Likely meant ids: task-group members whose id ends with ``.task_id``, then near misses."""
    members = [t for t in task_ids if t.endswith("." + task_id)]
    return list(dict.fromkeys([*members, *difflib.get_close_matches(task_id, task_ids, n=3)]))[:3]


def _did_you_mean(task_id: str, task_ids: Sequence[str]) -> str:
    close = _close(task_id, task_ids)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def given_xcoms(upstream: Any) -> list[Given]:
    """``upstream=`` as a list of :class:`Given`: a mapping ``{task_id: return_value}`` and/or an
    iterable of ``Given`` (and mappings); a clear error for anything else or an XCom given twice."""
    __tracebackhide__ = True
    if upstream is None:
        return []
    entries: list[Any] = [upstream] if isinstance(upstream, Mapping) else _entries(upstream)
    found: list[Given] = []
    for entry in entries:
        if isinstance(entry, Given):
            found.append(_checked(entry))
        elif isinstance(entry, Mapping):
            for task_id, value in entry.items():
                if isinstance(value, Given):
                    raise XComValueError(
                        f"upstream={{{task_id!r}: {value.label}}}: a mapping gives return values "
                        f"({{task_id: value}}); put Given objects in a list: upstream=[{value.label}, ...]"
                    )
                found.append(_checked(Given(task_id, value)))
        else:
            raise XComValueError(
                f"upstream= entry {_short(entry)} ({type(entry).__name__}) is neither a "
                "pytest_xcom.Given(task_id, value, key=..., map_index=...) nor a mapping {task_id: return_value}"
            )
    seen: dict[tuple[str, str, int], Given] = {}
    for item in found:
        where = (item.task_id, item.key, item.map_index)
        if where in seen:
            raise XComValueError(f"upstream= gives {item.where} twice: give each XCom once")
        seen[where] = item
    return found


def _entries(upstream: Any) -> list[Any]:
    __tracebackhide__ = True
    if isinstance(upstream, (str, bytes, Given)) or not isinstance(upstream, Iterable):
        hint = "; for one XCom, wrap it in a list: upstream=[Given(...)]" if isinstance(upstream, Given) else ""
        raise XComValueError(
            f"upstream= takes a mapping {{task_id: return_value}} or a list of pytest_xcom.Given, "
            f"not {_short(upstream)} ({type(upstream).__name__}){hint}"
        )
    return list(upstream)


def _checked(given: Given) -> Given:
    __tracebackhide__ = True
    if not isinstance(given.task_id, str) or not given.task_id:
        raise XComValueError(f"upstream= names task {given.task_id!r}: a task id is a non-empty string")
    if not isinstance(given.key, str) or not given.key:
        raise XComValueError(f"upstream {given.label}: an XCom key is a non-empty string")
    if isinstance(given.map_index, bool) or not isinstance(given.map_index, int) or given.map_index < -1:
        raise XComValueError(
            f"upstream {given.label}: map_index is -1 (an unmapped task) or the index of a mapped instance (0, 1, ...)"
        )
    return given


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."
