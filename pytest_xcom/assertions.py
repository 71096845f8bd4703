"""The ``assert_*`` checks over an :class:`~pytest_xcom.record.XComRun` and their messages.

Each failure says what was expected, what actually happened, and the nearest candidates.
"""

from __future__ import annotations

import pprint
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Optional, Union
from unittest.mock import ANY

from pytest_xcom.sizes import PRESETS, SizeLike, human, parse_size

if TYPE_CHECKING:
    from pytest_xcom.record import XComPush, XComRun


def _where(push: XComPush) -> str:
    index = f"[{push.map_index}]" if push.map_index >= 0 else ""
    return f"{push.task_id}{index} key {push.key!r}"


def _names(items: Iterable[str], empty: str = "nobody") -> str:
    items = sorted(items)
    return "{" + ", ".join(repr(i) for i in items) + "}" if items else empty


def _short(value: Any, width: int = 300) -> str:
    text = pprint.pformat(value, width=100)
    return text if len(text) <= width else text[: width - 3] + "..."


def _fail(message: str) -> None:
    __tracebackhide__ = True
    raise AssertionError(message)


def assert_succeeded(run: XComRun) -> None:
    __tracebackhide__ = True
    if run.succeeded and not run.failures:
        return
    lines = [f"DAG run {run.dag_id!r} ({run.run_id}) ended {run.state!r}, expected 'success'."]
    if run.failures:
        lines.append(f"{len(run.failures)} task instance(s) failed:")
        for where, text in run.failures.items():
            lines.append(f"\n--- {where} ---\n{text.rstrip()}")
    not_done = {
        task_id: state
        for task_id, state in run.task_states.items()
        if state not in ("success", "skipped", "failed") and not isinstance(state, list)
    }
    if not_done:
        lines.append("\nOther task instances did not succeed: " + ", ".join(f"{t}={s}" for t, s in not_done.items()))
    _fail("\n".join(lines))


def assert_pushed(run: XComRun, task_id: str, key: str, value: Any = ANY, *, map_index: Optional[int] = None) -> None:
    __tracebackhide__ = True
    pushes = run.pushed_by(task_id, map_index=map_index)
    where = f" at map_index={map_index}" if map_index is not None else ""
    if key not in pushes.keys:
        _fail(
            f"expected task {task_id!r} to push XCom key {key!r}{where}, but it did not.\n"
            f"It pushed: {_names(pushes.keys, 'nothing')}."
            + _state_hint(run, task_id)
        )
    if value is ANY:
        return
    actual = run.value(task_id, key, map_index=map_index)
    if actual != value:
        _fail(
            f"task {task_id!r} pushed XCom key {key!r}{where} with a different value.\n"
            f"expected: {_short(value)}\n"
            f"actual:   {_short(actual)}"
        )


def _state_hint(run: XComRun, task_id: str) -> str:
    state = run.task_states.get(task_id)
    if state in (None, "success") or isinstance(state, list):
        return ""
    return f"\nTask {task_id!r} ended in state {state!r}; see run.failures or run.assert_succeeded()."


def assert_not_pushed(run: XComRun, task_id: str, key: Optional[str] = None) -> None:
    __tracebackhide__ = True
    pushes = run.pushed_by(task_id)
    offending = sorted((p for p in pushes if key is None or p.key == key), key=lambda p: (p.map_index, p.key))
    if not offending:
        return
    what = "any XCom" if key is None else f"XCom key {key!r}"
    lines = [f"expected task {task_id!r} not to push {what}, but it pushed {len(offending)}:"]
    lines += [f"  {_where(p)} = {_short(p.value, 120)} ({human(p.size)})" for p in offending]
    _fail("\n".join(lines))


def assert_pulled(run: XComRun, task_id: str, source_task_id: str, key: str) -> None:
    __tracebackhide__ = True
    run._check_task(source_task_id)
    pulls = run.pulled_by(task_id)
    if any(p.found and p.source_task_id == source_task_id and p.key == key for p in pulls):
        return
    read = sorted({f"{p.source_task_id}:{p.key}" + ("" if p.found else " (not found)") for p in pulls})
    _fail(
        f"expected task {task_id!r} to read XCom {key!r} of {source_task_id!r}, but it did not.\n"
        f"{task_id!r} read: {', '.join(read) if read else 'nothing'}.\n"
        f"{source_task_id!r}:{key!r} was read by: {_names(run.consumers(source_task_id, key))}."
        + _pushed_hint(run, source_task_id, key)
    )


def _pushed_hint(run: XComRun, task_id: str, key: str) -> str:
    keys = run.pushed_by(task_id).keys
    if key in keys:
        return ""
    return f"\n{task_id!r} never pushed {key!r}; it pushed: {_names(keys, 'nothing')}."


def assert_exclusive(run: XComRun, task_id: str, key: str, *, consumers: Any) -> None:
    __tracebackhide__ = True
    expected = {consumers} if isinstance(consumers, str) else set(consumers)
    for consumer in expected:
        run._check_task(consumer)
    actual = run.consumers(task_id, key)
    if key not in run.pushed_by(task_id).keys:
        _fail(
            f"expected XCom {task_id!r}:{key!r} to be read by exactly {_names(expected)}, "
            f"but {task_id!r} never pushed {key!r}; it pushed: {_names(run.pushed_by(task_id).keys, 'nothing')}."
        )
    if actual == expected:
        return
    lines = [
        f"XCom {task_id!r}:{key!r} is not exclusive to {_names(expected)}.",
        f"expected readers: {_names(expected)}",
        f"actual readers:   {_names(actual)}",
    ]
    if actual - expected:
        lines.append(f"unexpected readers: {_names(actual - expected)}")
        for reader in sorted(actual - expected):
            kinds = sorted({p.kind for p in run.pulled_by(reader) if p.source_task_id == task_id and p.key == key})
            lines.append(f"  {reader!r} read it as {' and '.join(kinds)}")
    if expected - actual:
        lines.append(f"never read by: {_names(expected - actual)}")
    _fail("\n".join(lines))


def _limit_text(limit: SizeLike, limit_bytes: int) -> str:
    preset = f", preset {limit!r}" if isinstance(limit, str) and limit.strip().lower() in PRESETS else ""
    return f"{human(limit_bytes)} ({limit_bytes:,} bytes{preset})"


def max_size_offenders(run: XComRun, limit_bytes: int, *, task_id: Optional[str] = None, stored: bool = False) -> list[XComPush]:
    """Effective pushes larger than ``limit_bytes``, largest first."""
    __tracebackhide__ = True
    if task_id is not None:
        run._check_task(task_id)
    measure = (lambda p: p.stored_size) if stored else (lambda p: p.size)
    offenders = [
        p for p in run.effective_pushes() if (task_id is None or p.task_id == task_id) and measure(p) > limit_bytes
    ]
    return sorted(offenders, key=lambda p: (-measure(p), p.task_id, p.map_index, p.key))


def max_size_message(run: XComRun, offenders: list[XComPush], limit: SizeLike, limit_bytes: int, stored: bool) -> str:
    what = "stored size" if stored else "serialized size"
    lines = [
        f"{len(offenders)} XCom(s) of DAG {run.dag_id!r} exceed the {what} limit of "
        f"{_limit_text(limit, limit_bytes)}, largest first:"
    ]
    for p in offenders:
        size = p.stored_size if stored else p.size
        lines.append(f"  {_where(p)}: {human(size)} ({size:,} bytes)")
    advice = (
        "Push a reference (e.g. an object-store URI) instead of the data, or use an XCom backend "
        "that offloads large values"
    )
    if not stored:
        advice += " and check stored size with stored=True"
    lines.append(advice + ".")
    return "\n".join(lines)


def assert_max_size(run: XComRun, limit: SizeLike, *, task_id: Optional[str] = None, stored: bool = False) -> None:
    __tracebackhide__ = True
    limit_bytes = parse_size(limit)
    offenders = max_size_offenders(run, limit_bytes, task_id=task_id, stored=stored)
    if offenders:
        _fail(max_size_message(run, offenders, limit, limit_bytes, stored))


def json_offenders(run: XComRun) -> list[XComPush]:
    return sorted((p for p in run.effective_pushes() if not p.json_serializable),
                  key=lambda p: (p.task_id, p.map_index, p.key))


def json_message(offenders: list[XComPush]) -> str:
    lines = [f"{len(offenders)} XCom value(s) are not plain JSON (they rely on Airflow's serde):"]
    for p in offenders:
        lines.append(f"  {_where(p)}: {p.type_name} = {_short(p.value, 120)}")
    lines.append(
        "Convert them to JSON types (dict, list, str, int, float, bool, None) before pushing, "
        "e.g. dates as ISO strings and tuples as lists."
    )
    return "\n".join(lines)


def assert_json_serializable(run: XComRun) -> None:
    __tracebackhide__ = True
    offenders = json_offenders(run)
    if offenders:
        _fail(json_message(offenders))


IgnoreEntry = Union[str, tuple[str, str]]


def _ignored(push: XComPush, ignore: Iterable[IgnoreEntry]) -> bool:
    for entry in ignore:
        if isinstance(entry, str):
            if entry in (push.task_id, push.key):
                return True
        elif isinstance(entry, tuple) and len(entry) == 2:
            if entry == (push.task_id, push.key):
                return True
        else:
            raise TypeError(
                f"ignore= takes task ids, keys or (task_id, key) pairs, not {entry!r}"
            )
    return False


def unused_pushes(run: XComRun, ignore: Union[IgnoreEntry, Iterable[IgnoreEntry]] = ()) -> list[XComPush]:
    """Effective pushes nobody read, in (task, map index, key) order."""
    # A tuple is a collection of entries (as in the API's ignore=()); a pair goes inside it.
    entries = [ignore] if isinstance(ignore, str) else list(ignore)
    unused = [p for p in run.effective_pushes() if not _ignored(p, entries) and not _read_at(run, p)]
    return sorted(unused, key=lambda p: (p.task_id, p.map_index, p.key))


def leaf_return_values(run: XComRun) -> list[tuple[str, str]]:
    """(task, "return_value") of every task no other task depends on: nothing could read those."""
    upstream = {up for up, _down in run.dependencies}
    return [(task_id, "return_value") for task_id in run.task_ids if task_id not in upstream]


def _read_at(run: XComRun, push: XComPush) -> bool:
    return any(
        p.found
        and p.source_task_id == push.task_id
        and p.key == push.key
        and p.source_map_index in (None, push.map_index)
        for p in run.pulls
    )


def unused_message(unused: list[XComPush]) -> str:
    lines = [f"{len(unused)} pushed XCom(s) were never read by any task:"]
    for p in unused:
        lines.append(f"  {_where(p)} ({human(p.size)})")
    pairs = ", ".join(repr((p.task_id, p.key)) for p in unused if p.map_index <= 0)
    lines.append(
        "Stop pushing them (do_xcom_push=False, or return None), or mark them as expected with "
        f"ignore=[{pairs}] (task ids and keys work too)."
    )
    return "\n".join(lines)


def assert_no_unused(run: XComRun, *, ignore: Union[IgnoreEntry, Iterable[IgnoreEntry]] = ()) -> None:
    __tracebackhide__ = True
    unused = unused_pushes(run, ignore)
    if unused:
        _fail(unused_message(unused))


def assert_expanded(run: XComRun, task_id: str, count: int) -> None:
    __tracebackhide__ = True
    expansion = run.expansions(task_id)
    if expansion.count == count:
        return
    _fail(
        f"expected mapped task {task_id!r} to expand into {count} task instance(s), "
        f"but it expanded into {expansion.count}.\n"
        f"map indexes: {expansion.map_indexes}\n"
        f"states:      {expansion.states}\n"
        f"values:      {_short(expansion.values)}"
    )


def assert_storage(run: XComRun, task_id: str, key: str, *, map_index: Optional[int], offloaded: bool) -> None:
    __tracebackhide__ = True
    pushes = [p for p in run.pushed_by(task_id, map_index=map_index) if p.key == key]
    if not pushes:
        _fail(
            f"expected XCom {task_id!r}:{key!r} to be {'offloaded' if offloaded else 'stored inline'}, "
            f"but {task_id!r} never pushed it; it pushed: {_names(run.pushed_by(task_id).keys, 'nothing')}."
        )
    wrong = [p for p in pushes if p.offloaded != offloaded]
    if not wrong:
        return
    lines = [
        f"expected XCom {task_id!r}:{key!r} to be "
        + ("offloaded by the XCom backend" if offloaded else "stored inline in the metadata DB")
        + f" (backend {run.backend!r}), but {len(wrong)} push(es) were "
        + ("stored inline:" if offloaded else "offloaded:")
    ]
    for p in wrong:
        lines.append(f"  {_where(p)}: size {human(p.size)}, DB holds {_short(p.stored, 100)} ({human(p.stored_size)})")
    _fail("\n".join(lines))


def implicit_pulls(run: XComRun) -> list[Any]:
    """Explicit ``ti.xcom_pull`` calls made without ``task_ids``."""
    return [p for p in run.pulls if p.kind == "explicit" and not p.task_ids_explicit]


def implicit_pulls_message(pulls: list[Any]) -> str:
    lines = [f"{len(pulls)} ti.xcom_pull() call(s) did not name task_ids:"]
    for p in pulls:
        index = f"[{p.map_index}]" if p.map_index >= 0 else ""
        outcome = "found a value" if p.found else "found nothing"
        lines.append(f"  {p.task_id}{index} pulled key {p.key!r} from its own task id ({outcome})")
    lines.append(
        "Pass task_ids= explicitly: what xcom_pull() reads without it changed across Airflow "
        "versions (Airflow 3 reads the calling task's own XCom)."
    )
    return "\n".join(lines)


def assert_no_implicit_pulls(run: XComRun) -> None:
    __tracebackhide__ = True
    pulls = implicit_pulls(run)
    if pulls:
        _fail(implicit_pulls_message(pulls))
