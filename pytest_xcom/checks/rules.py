"""The rules a run can break, each written once: who offends, and the message that says so.

The ``assert_*`` methods raise a rule's message; the suite-wide policy (``--xcom-max-size``,
``--xcom-strict``) collects the messages of every rule a run breaks and fails the test after it.
"""

from __future__ import annotations

import pprint
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_xcom.errors import XComTypeError
from pytest_xcom.record.events import XComPull, XComPush, instance_label
from pytest_xcom.sizes import PRESETS, SizeLike, human, parse_size, unit_system

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun

IgnoreEntry = str | tuple[str, str]


def short(value: Any, width: int = 300) -> str:
    """A value as a message shows it: pretty-printed, cut at ``width`` characters."""
    text = pprint.pformat(value, width=100)
    return text if len(text) <= width else text[: width - 3] + "..."


class Rule:
    """A check over a run: ``violation(run)`` is its message, or None when the run complies."""

    def violation(self, run: XComRun) -> str | None:
        offenders = self.offenders(run)
        return self.message(run, offenders) if offenders else None

    def check(self, run: XComRun) -> None:
        """Raise AssertionError with the rule's message when the run breaks it."""
        __tracebackhide__ = True
        message = self.violation(run)
        if message is not None:
            raise AssertionError(message)

    def offenders(self, run: XComRun) -> list[Any]:
        raise NotImplementedError

    def message(self, run: XComRun, offenders: list[Any]) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class MaxSize(Rule):
    """Every standing push (of ``task_id``) is at most ``limit`` serialized (or stored) bytes."""

    limit: SizeLike
    task_id: str | None = None
    stored: bool = False

    @property
    def limit_bytes(self) -> int:
        return parse_size(self.limit)

    def _measure(self, push: XComPush) -> int:
        # An unknown serialized size (Airflow's serializer refused the value) is not judged here:
        # stored=True still checks what the backend stored.
        return push.stored_size if self.stored else (push.size if push.size is not None else -1)

    def offenders(self, run: XComRun) -> list[XComPush]:
        """Standing pushes larger than the limit, largest first."""
        __tracebackhide__ = True
        if self.task_id is not None:
            run._check_task(self.task_id)  # an unknown task id is a clear error
        limit = self.limit_bytes
        found = [
            p
            for p in run.effective_pushes()
            if (self.task_id is None or p.task_id == self.task_id) and self._measure(p) > limit
        ]
        return sorted(found, key=lambda p: (-self._measure(p), p.task_id, p.map_index, p.key))

    def message(self, run: XComRun, offenders: list[XComPush]) -> str:
        limit = self.limit_bytes
        units = unit_system(self.limit)  # "1MB" reads "1.0 MB", "1MiB" "1.0 MiB"
        preset = self.limit.strip().lower() in PRESETS if isinstance(self.limit, str) else False
        limit_text = f"{human(limit, units)} ({limit:,} bytes{f', preset {self.limit!r}' if preset else ''})"
        what = "stored size" if self.stored else "serialized size"
        lines = [
            f"{len(offenders)} XCom(s) of DAG {run.dag_id!r} exceed the {what} limit of {limit_text}, largest first:"
        ]
        for p in offenders:
            size = self._measure(p)
            lines.append(f"  {p.label}: {human(size, units)} ({size:,} bytes)")
        advice = (
            "Push a reference (e.g. an object-store URI) instead of the data, or use an XCom backend "
            "that offloads large values"
        )
        if not self.stored:
            advice += " and check stored size with stored=True"
        lines.append(advice + ".")
        return "\n".join(lines)


@dataclass(frozen=True)
class PlainJson(Rule):
    """Every standing push is plain JSON (no reliance on Airflow's serde)."""

    def offenders(self, run: XComRun) -> list[XComPush]:
        return sorted(
            (p for p in run.effective_pushes() if not p.json_serializable),
            key=lambda p: (p.task_id, p.map_index, p.key),
        )

    def message(self, run: XComRun, offenders: list[XComPush]) -> str:
        lines = [f"{len(offenders)} XCom value(s) are not plain JSON (they rely on Airflow's serde):"]
        for p in offenders:
            lines.append(f"  {p.label}: {p.type_name} = {short(p.value, 120)}")
        lines.append(
            "Convert them to JSON types (dict, list, str, int, float, bool, None) before pushing, "
            "e.g. dates as ISO strings and tuples as lists."
        )
        return "\n".join(lines)


def _ignored(push: XComPush, ignore: Iterable[IgnoreEntry]) -> bool:
    for entry in ignore:
        if isinstance(entry, str):
            if entry in (push.task_id, push.key):
                return True
        elif isinstance(entry, tuple) and len(entry) == 2:
            if entry == (push.task_id, push.key):
                return True
        else:
            raise XComTypeError(f"ignore= takes task ids, keys or (task_id, key) pairs, not {entry!r}")
    return False


@dataclass(frozen=True)
class NoUnused(Rule):
    """Every standing push was read by some task, except what ``ignore`` names.

    ``ignore_leaves``: a leaf task's return value has no task that could read it (it shows in the
    UI as the task's result); the strict policy lets it be, ``assert_no_unused()`` does not.
    ``ignore_airflow``: XComs Airflow pushes itself (``skipmixin_key``, a branch's decision, the
    whole dict ``multiple_outputs`` pushes beside its keys) are not the user's to stop pushing.
    """

    ignore: IgnoreEntry | tuple[IgnoreEntry, ...] | list[IgnoreEntry] = ()
    ignore_leaves: bool = False
    ignore_airflow: bool = False

    def _entries(self, run: XComRun) -> list[IgnoreEntry]:
        # A tuple is a collection of entries (as in the API's ignore=()); a pair goes inside it.
        entries: list[IgnoreEntry] = [self.ignore] if isinstance(self.ignore, str) else list(self.ignore)
        if self.ignore_leaves:
            upstream = {up for up, _down in run.dependencies}
            entries += [(task_id, "return_value") for task_id in run.task_ids if task_id not in upstream]
        if self.ignore_airflow:
            entries += sorted(run.airflow_xcoms)
        return entries

    def offenders(self, run: XComRun) -> list[XComPush]:
        entries = self._entries(run)
        unused = [p for p in run.effective_pushes() if not _ignored(p, entries) and not run.reads_of(p)]
        return sorted(unused, key=lambda p: (p.task_id, p.map_index, p.key))

    def message(self, run: XComRun, offenders: list[XComPush]) -> str:
        lines = [f"{len(offenders)} pushed XCom(s) were never read by any task:"]
        for p in offenders:
            lines.append(f"  {p.label} ({human(p.size)})")
        pairs = ", ".join(repr((p.task_id, p.key)) for p in offenders if p.map_index <= 0)
        lines.append(
            "Stop pushing them (do_xcom_push=False, or return None), or mark them as expected with "
            f"ignore=[{pairs}] (task ids and keys work too)."
        )
        own = sorted(run.airflow_xcoms & {(p.task_id, p.key) for p in offenders})
        if own:
            lines.append(
                "Of these, Airflow pushes " + ", ".join(repr(pair) for pair in own) + " itself (a branch's "
                "decision, skipmixin_key, the whole dict of multiple_outputs, or a task loop's decision reason): "
                "--xcom-strict exempts them."
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class NamedTaskIds(Rule):
    """Every explicit ``ti.xcom_pull()`` names its ``task_ids``."""

    def offenders(self, run: XComRun) -> list[XComPull]:
        return [p for p in run.pulls if p.kind == "explicit" and not p.task_ids_explicit]

    def message(self, run: XComRun, offenders: list[XComPull]) -> str:
        lines = [f"{len(offenders)} ti.xcom_pull() call(s) did not name task_ids:"]
        for p in offenders:
            outcome = "found a value" if p.found else "found nothing"
            # Airflow 2 reads any task's XCom of that key; Airflow 3 the calling task's own
            source = "its own task id" if p.source_task_id == p.task_id else f"task {p.source_task_id!r}"
            lines.append(f"  {instance_label(p.task_id, p.map_index)} pulled key {p.key!r} from {source} ({outcome})")
        lines.append(
            "Pass task_ids= explicitly: what xcom_pull() reads without it changed across Airflow "
            "versions (Airflow 3 reads the calling task's own XCom)."
        )
        return "\n".join(lines)


REFERENCE_HINT = (
    "A reader got the stored reference instead of the value: the backend's deserialize_value could not "
    "fetch the object when that task read it, and Airflow's object-storage backend then hands back the "
    "reference itself. The object was missing, unreadable or not yet written. A known case: gcsfs 2026.x "
    "uploads a file left open from a background thread, and the object-storage backend leaves its "
    "compressed writes open, so with compression on GCS the next task can read before the upload ends "
    "(plain dag.test() races the same way). On GCS, drop compression until the backend closes its files."
)


def reference_readers(run: XComRun, push: XComPush) -> set[str]:
    """Task instances that received ``push``'s stored reference instead of its value."""
    return {
        instance_label(pull.task_id, pull.map_index)
        for pull in run.reads_of(push)
        if pull.received_reference is not None and pull.received_reference == push.stored
    }


@dataclass(frozen=True)
class RoundTrip(Rule):
    """Every standing push (of ``task_id``) reaches readers equal to what the task pushed."""

    task_id: str | None = None

    def offenders(self, run: XComRun) -> list[XComPush]:
        __tracebackhide__ = True
        if self.task_id is not None:
            run._check_task(self.task_id)
        return [
            p
            for p in run.effective_pushes()
            if (self.task_id is None or p.task_id == self.task_id) and not p.round_trips
        ]

    def message(self, run: XComRun, offenders: list[XComPush]) -> str:
        lines = [
            f"{len(offenders)} XCom(s) of DAG {run.dag_id!r} do not reach their readers as pushed "
            f"(backend {run.backend!r}):"
        ]
        for p in offenders:
            received = (
                f"<unreadable: {p.value_error}>"
                if p.value_error
                else f"{short(p.value, 120)} ({type(p.value).__name__})"
            )
            lines.append(f"  {p.label}:")
            lines.append(f"    pushed:   {short(p.pushed, 120)} ({p.type_name})")
            lines.append(f"    received: {received}")
            for reader in sorted(reference_readers(run, p)):
                lines.append(f"    received by {reader}: the stored reference {p.stored!r}, not the value")
        if any(reference_readers(run, p) for p in offenders):
            lines.append(REFERENCE_HINT)
        lines.append(
            "A reader gets what the backend's deserialize_value makes of the stored row: it must hand back "
            "the value itself, not a string, a path or a reference to it."
        )
        return "\n".join(lines)
