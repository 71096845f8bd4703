"""The ``assert_*`` checks over an :class:`~pytest_xcom.record.XComRun` and their messages.

Each failure says what was expected, what actually happened, and the nearest candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from unittest.mock import ANY

from pytest_xcom.checks.rules import REFERENCE_HINT, reference_readers
from pytest_xcom.checks.rules import short as _short
from pytest_xcom.sizes import human

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun


def _names(items: Iterable[str], empty: str = "nobody") -> str:
    items = sorted(items)
    return "{" + ", ".join(repr(i) for i in items) + "}" if items else empty


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
    references = [
        f"  {reader} read {push.label} and got {push.stored!r} (str), not the value"
        for push in run.pushes
        if push.offloaded and not push.round_trips  # what a reference read leaves: the scan is for those
        for reader in sorted(reference_readers(run, push))
    ]
    if references:
        lines += ["\nReaders that received a stored reference instead of the value:", *references, REFERENCE_HINT]
    _fail("\n".join(lines))


def assert_pushed(
    run: XComRun,
    task_id: str,
    key: str,
    value: Any = ANY,
    *,
    map_index: int | None = None,
    iteration: int | None = None,
) -> None:
    __tracebackhide__ = True
    pushes = run.pushed_by(task_id, map_index=map_index, iteration=iteration)
    where = f" at map_index={map_index}" if map_index is not None else ""
    if run.loop_of(task_id) is not None:
        where += f" in loop iteration {run._iteration(task_id, iteration)}"
    if key not in pushes.keys:
        _fail(
            f"expected task {task_id!r} to push XCom key {key!r}{where}, but it did not.\n"
            f"It pushed: {_names(pushes.keys, 'nothing')}." + _state_hint(run, task_id)
        )
    if value is ANY:
        return
    actual = run.value(task_id, key, map_index=map_index, iteration=iteration)
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


def assert_not_pushed(run: XComRun, task_id: str, key: str | None = None) -> None:
    __tracebackhide__ = True
    pushes = run.pushed_by(task_id)
    offending = sorted((p for p in pushes if key is None or p.key == key), key=lambda p: (p.map_index, p.key))
    if not offending:
        return
    what = "any XCom" if key is None else f"XCom key {key!r}"
    lines = [f"expected task {task_id!r} not to push {what}, but it pushed {len(offending)}:"]
    lines += [f"  {p.label} = {_short(p.value, 120)} ({human(p.size)})" for p in offending]
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


def assert_expanded(run: XComRun, task_id: str, count: int, *, iteration: int | None = None) -> None:
    __tracebackhide__ = True
    expansion = run.expansions(task_id, iteration=iteration)
    if expansion.count == count:
        return
    where = f" in loop iteration {run._iteration(task_id, iteration)}" if run.loop_of(task_id) is not None else ""
    _fail(
        f"expected mapped task {task_id!r} to expand into {count} task instance(s){where}, "
        f"but it expanded into {expansion.count}.\n"
        f"map indexes: {expansion.map_indexes}\n"
        f"states:      {expansion.states}\n"
        f"values:      {_short(expansion.values)}"
    )


def assert_iterations(run: XComRun, group_id: str, count: int) -> None:
    __tracebackhide__ = True
    loop = run.loop(group_id)
    if loop.count == count:
        return
    reasons = [reason for reason in loop.reasons if reason is not None]
    _fail(
        f"expected task loop {group_id!r} to run {count} iteration(s), but it ran {loop.count} "
        f"(max_iterations={loop.max_iterations}, stopped by {loop.stopped_by}).\n"
        f"gate {loop.gate_task_id!r} states: {loop.states}\n"
        + (f"decision reasons: {reasons}\n" if reasons else "")
        + f"terminal {loop.terminal_task_id!r} values: {_short(loop.values)}"
    )


def assert_storage(
    run: XComRun, task_id: str, key: str, *, map_index: int | None, iteration: int | None = None, offloaded: bool
) -> None:
    __tracebackhide__ = True
    pushes = [p for p in run.pushed_by(task_id, map_index=map_index, iteration=iteration) if p.key == key]
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
        lines.append(f"  {p.label}: size {human(p.size)}, DB holds {_short(p.stored, 100)} ({human(p.stored_size)})")
    _fail("\n".join(lines))
