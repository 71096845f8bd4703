"""XComRun: the record of one DAG run, and the queries and assertions over it. Pure Python: no Airflow."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from unittest.mock import ANY

from pytest_xcom.checks import assertions, rules
from pytest_xcom.errors import XComLookupError
from pytest_xcom.record.events import RETURN_KEY, XComDelete, XComPull, XComPush, instance_label
from pytest_xcom.record.manifest import build_manifest
from pytest_xcom.reporting.text import text_report
from pytest_xcom.sizes import SizeLike


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
                f"task {self.task_id!r} pushed no XCom with key {key!r}{where}; it pushed: {_describe_keys(self)}"
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


@dataclass
class XComRun:
    """Everything one DAG run did with XCom, with queries and assertions over it."""

    dag_id: str
    run_id: str
    logical_date: datetime | None
    state: str
    task_states: dict[str, Any]
    failures: dict[str, str]
    pushes: list[XComPush]
    pulls: list[XComPull]
    deletes: list[XComDelete]
    task_ids: tuple[str, ...] = ()
    mapped_task_ids: frozenset[str] = frozenset()
    dependencies: tuple[tuple[str, str], ...] = ()  # (upstream, downstream) edges of the DAG
    backend: str = "db"
    duration: float = 0.0
    policy_violations: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    # -- queries ---------------------------------------------------------------------------

    def _check_task(self, task_id: str) -> None:
        __tracebackhide__ = True
        if task_id in self.task_ids or not self.task_ids:
            return
        close = difflib.get_close_matches(task_id, self.task_ids, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise XComLookupError(
            f"task {task_id!r} is not in DAG {self.dag_id!r}{hint} Its tasks are: {', '.join(self.task_ids)}"
        )

    def is_mapped(self, task_id: str) -> bool:
        __tracebackhide__ = True
        self._check_task(task_id)
        return task_id in self.mapped_task_ids

    def effective_pushes(self) -> list[XComPush]:
        """The last push per (task, map index, key): what the metadata DB holds after the run."""
        latest: dict[tuple[str, int, str], XComPush] = {}
        for push in self.pushes:
            latest[(push.task_id, push.map_index, push.key)] = push
        deleted = {(d.task_id, d.map_index, d.key) for d in self.deletes}
        return [p for k, p in latest.items() if k not in deleted and (k[0], None, k[2]) not in deleted]

    def pushed_by(self, task_id: str, *, map_index: int | None = None) -> Pushes:
        __tracebackhide__ = True
        self._check_task(task_id)
        pushes = [p for p in self.pushes if p.task_id == task_id and (map_index is None or p.map_index == map_index)]
        return Pushes(task_id, pushes, mapped=task_id in self.mapped_task_ids)

    def pulled_by(self, task_id: str, *, map_index: int | None = None) -> list[XComPull]:
        __tracebackhide__ = True
        self._check_task(task_id)
        return [p for p in self.pulls if p.task_id == task_id and (map_index is None or p.map_index == map_index)]

    def _reads_of(self, task_id: str, key: str) -> list[XComPull]:
        return [p for p in self.pulls if p.found and p.source_task_id == task_id and p.key == key]

    def reads_of(self, push: XComPush) -> list[XComPull]:
        """Every read that found ``push``."""
        return [pull for pull in self.pulls if pull.reads(push)]

    def readers(self, push: XComPush) -> list[str]:
        """Sorted labels (``task`` / ``task[i]``) of the task instances that read ``push``."""
        return sorted({instance_label(p.task_id, p.map_index) for p in self.reads_of(push)})

    def ordered_task_ids(self) -> list[str]:
        """The DAG's task ids in DAG order, then any id the record mentions that is not among them."""
        seen = dict.fromkeys(self.task_ids)
        for task_id in [*self.task_states, *(p.task_id for p in self.pushes)]:
            seen.setdefault(task_id)
        for pull in self.pulls:
            seen.setdefault(pull.task_id)
            if pull.found:
                seen.setdefault(pull.source_task_id)
        return list(seen)

    def ordered_pushes(self) -> list[XComPush]:
        """The standing pushes in task order, then map index, then key: how reports list them."""
        order = {task_id: i for i, task_id in enumerate(self.ordered_task_ids())}
        return sorted(self.effective_pushes(), key=lambda p: (order.get(p.task_id, 0), p.map_index, p.key))

    def consumers(self, task_id: str, key: str = RETURN_KEY) -> set[str]:
        """Ids of the tasks that read that XCom, explicitly or as an argument."""
        __tracebackhide__ = True
        self._check_task(task_id)
        return {p.task_id for p in self._reads_of(task_id, key)}

    def consumer_instances(self, task_id: str, key: str = RETURN_KEY) -> set[tuple[str, int]]:
        __tracebackhide__ = True
        self._check_task(task_id)
        return {(p.task_id, p.map_index) for p in self._reads_of(task_id, key)}

    def _select(self, task_id: str, key: str, map_index: int | None) -> list[XComPush]:
        """Effective pushes of (task, key[, map_index]) ordered by map index; error if none."""
        __tracebackhide__ = True
        self._check_task(task_id)
        found = sorted(
            (
                p
                for p in self.effective_pushes()
                if p.task_id == task_id and p.key == key and (map_index is None or p.map_index == map_index)
            ),
            key=lambda p: p.map_index,
        )
        if not found and not (map_index is None and task_id in self.mapped_task_ids):
            where = f" at map_index={map_index}" if map_index is not None else ""
            raise XComLookupError(
                f"task {task_id!r} pushed no XCom with key {key!r}{where}; "
                f"it pushed: {_describe_keys(self.pushed_by(task_id))}"
            )
        return found

    def value(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> Any:
        """The value; for a mapped task with map_index=None, the values ordered by map_index."""
        __tracebackhide__ = True
        found = self._select(task_id, key, map_index)
        if map_index is None and task_id in self.mapped_task_ids:
            return [p.value for p in found]
        return found[-1].value

    def size(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> int:
        """Serialized bytes (summed over map indexes for a mapped task with map_index=None)."""
        __tracebackhide__ = True
        return sum(p.size for p in self._select(task_id, key, map_index))

    def stored_size(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> int:
        """Bytes the metadata DB row holds (summed over map indexes when map_index=None)."""
        __tracebackhide__ = True
        return sum(p.stored_size for p in self._select(task_id, key, map_index))

    def expansions(self, task_id: str) -> Expansion:
        __tracebackhide__ = True
        self._check_task(task_id)
        if task_id not in self.mapped_task_ids:
            mapped = ", ".join(sorted(self.mapped_task_ids)) or "none"
            raise XComLookupError(
                f"task {task_id!r} is not mapped, so it has no expansions (mapped tasks in {self.dag_id!r}: {mapped})"
            )
        states = self.task_states.get(task_id, [])
        if not isinstance(states, list):
            states = []
        indexes = list(range(len(states)))
        by_index = {
            p.map_index: p.value for p in self.effective_pushes() if p.task_id == task_id and p.key == RETURN_KEY
        }
        return Expansion(
            task_id=task_id,
            map_indexes=indexes,
            values=[by_index[i] for i in indexes if i in by_index],
            states=list(states),
        )

    def manifest(self) -> dict[str, Any]:
        """A JSON-ready, deterministic description of the XCom traffic (what snapshots compare)."""
        return build_manifest(self)

    def report(self) -> str:
        """A table of pushes (task, map index, key, size, offloaded) and, under each, who read it."""
        return text_report(self)

    # -- assertions ------------------------------------------------------------------------

    def assert_succeeded(self) -> None:
        __tracebackhide__ = True
        assertions.assert_succeeded(self)

    def assert_pushed(
        self, task_id: str, key: str = RETURN_KEY, value: Any = ANY, *, map_index: int | None = None
    ) -> None:
        __tracebackhide__ = True
        assertions.assert_pushed(self, task_id, key, value, map_index=map_index)

    def assert_not_pushed(self, task_id: str, key: str | None = None) -> None:
        __tracebackhide__ = True
        assertions.assert_not_pushed(self, task_id, key)

    def assert_pulled(self, task_id: str, source_task_id: str, key: str = RETURN_KEY) -> None:
        __tracebackhide__ = True
        assertions.assert_pulled(self, task_id, source_task_id, key)

    def assert_exclusive(self, task_id: str, key: str = RETURN_KEY, *, consumers: Any) -> None:
        __tracebackhide__ = True
        assertions.assert_exclusive(self, task_id, key, consumers=consumers)

    def assert_max_size(self, limit: SizeLike, *, task_id: str | None = None, stored: bool = False) -> None:
        __tracebackhide__ = True
        rules.MaxSize(limit, task_id=task_id, stored=stored).check(self)

    def assert_json_serializable(self) -> None:
        __tracebackhide__ = True
        rules.PlainJson().check(self)

    def assert_no_unused(self, *, ignore: Any = ()) -> None:
        __tracebackhide__ = True
        rules.NoUnused(ignore=ignore).check(self)

    def assert_no_implicit_pulls(self) -> None:
        """Every ti.xcom_pull() named its task_ids (an extension of the API)."""
        __tracebackhide__ = True
        rules.NamedTaskIds().check(self)

    def assert_expanded(self, task_id: str, count: int) -> None:
        __tracebackhide__ = True
        assertions.assert_expanded(self, task_id, count)

    def assert_offloaded(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> None:
        __tracebackhide__ = True
        assertions.assert_storage(self, task_id, key, map_index=map_index, offloaded=True)

    def assert_inline(self, task_id: str, key: str = RETURN_KEY, *, map_index: int | None = None) -> None:
        __tracebackhide__ = True
        assertions.assert_storage(self, task_id, key, map_index=map_index, offloaded=False)

    def to_dict(self, *, value_limit: int = 200) -> dict[str, Any]:
        """A JSON-ready copy for moving runs between processes (xdist) and into reports.

        Values are replaced by a repr cut at ``value_limit`` characters: reports show them,
        nobody compares them.
        """
        data = dataclasses.asdict(self)
        data["logical_date"] = self.logical_date.isoformat() if self.logical_date else None
        data["mapped_task_ids"] = sorted(self.mapped_task_ids)
        data["task_ids"] = list(self.task_ids)
        data["dependencies"] = [list(edge) for edge in self.dependencies]
        for push in data["pushes"]:
            push["value"] = _cut(repr(push["value"]), value_limit)
            push["stored"] = _cut(repr(push["stored"]), value_limit)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> XComRun:
        fields = dict(data)
        fields["logical_date"] = datetime.fromisoformat(data["logical_date"]) if data["logical_date"] else None
        fields["mapped_task_ids"] = frozenset(data["mapped_task_ids"])
        fields["task_ids"] = tuple(data["task_ids"])
        fields["dependencies"] = tuple(tuple(edge) for edge in data.get("dependencies", ()))
        fields["pushes"] = [XComPush(**p) for p in data["pushes"]]
        fields["pulls"] = [XComPull(**p) for p in data["pulls"]]
        fields["deletes"] = [XComDelete(**d) for d in data["deletes"]]
        return cls(**fields)

    def __repr__(self) -> str:
        return (
            f"<XComRun {self.dag_id} {self.run_id} state={self.state} "
            f"pushes={len(self.pushes)} pulls={len(self.pulls)} deletes={len(self.deletes)}>"
        )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_keys(pushes: list[XComPush]) -> str:
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
