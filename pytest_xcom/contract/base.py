"""The machinery behind ``XComBackendContract``: running a check, collecting and judging its flaws."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pytest

from pytest_xcom.contract import dags
from pytest_xcom.harness import XComHarness
from pytest_xcom.isolation.backends import OBJECT_STORES
from pytest_xcom.record import RETURN_KEY, XComPush, XComRun
from pytest_xcom.sizes import parse_size

DEFAULT_SIZES = {"1 KiB": 1024, "48 KiB": 48 * 1024, "1 MiB": 1024 * 1024}
REFERENCE_CHECK_SIZE = 64 * 1024  # a value every offloading backend is expected to offload


class _Flaws(list[str]):
    """The flaws one check found, and whether it could observe what it checks at all.

    A check that could not observe (its DAG failed, a task was skipped, a value was never pushed,
    a checking task never reported) fails whatever ``known_flaws`` says: it checked nothing.
    """

    blind: bool = False

    def unobserved(self, flaw: str) -> None:
        self.blind = True
        self.append(flaw)


class ContractHelpers:
    """The settings a contract class declares, and the helpers every check uses."""

    #: "s3", or the dotted path of the BaseXCom subclass under test.
    backend: ClassVar[str] = ""
    #: Options for the backend (the s3 backend's threshold, compression, bucket, prefix).
    backend_options: ClassVar[dict[str, Any]] = {}
    #: Values whose JSON is at least this many bytes are offloaded: checked one byte below, at and
    #: above. None: the backend decides by other means; sizes of 1 KiB, 48 KiB and 1 MiB are used.
    threshold: ClassVar[int | None] = None
    #: The most an offloaded value may leave in the metadata DB (the reference), in bytes.
    max_reference_size: ClassVar[int] = 1024
    #: Checks (method names without ``test_``) this backend is known to fail: they are reported
    #: as expected failures with the flaw, and fail loudly once the flaw is fixed.
    known_flaws: ClassVar[frozenset[str]] = frozenset()

    def _run(self, xcom: XComHarness, dag: Any, **kwargs: Any) -> XComRun:
        __tracebackhide__ = True
        if not self.backend:
            raise pytest.UsageError(
                f"{type(self).__name__} inherits XComBackendContract but sets no backend: "
                "add backend = 'my_project.xcom_backend.MyXCom' (or 's3') to the class"
            )
        options = dict(self.backend_options) or None
        return xcom.run(dag, backend=self.backend, backend_options=options, **kwargs)

    def _threshold(self) -> int | None:
        if self.threshold is not None:
            return self.threshold
        if self.backend in OBJECT_STORES:
            return parse_size(self.backend_options.get("threshold", 0)) or None
        return None

    @contextlib.contextmanager
    def _check(self, name: str, what: str) -> Iterator[_Flaws]:
        """Collect the flaws a check finds; fail (or xfail for a known flaw) with all of them."""
        __tracebackhide__ = True
        flaws = _Flaws()
        yield flaws
        known = name in self.known_flaws
        if flaws and known and not flaws.blind:
            pytest.xfail(f"known flaw of {self.backend}: {flaws[0]}")
        if known and flaws.blind:
            flaws.append(
                f"{name!r} is listed in known_flaws, but the check could not observe what it checks, "
                "so it cannot tell whether the known flaw is still there"
            )
        if not flaws and known:
            pytest.fail(
                f"{self.backend} now passes the check {name!r} listed in known_flaws: remove it from "
                f"{type(self).__name__}.known_flaws",
                pytrace=False,
            )
        if flaws:
            raise AssertionError(
                f"XCom backend contract: {what}\nbackend {self.backend!r} fails it:\n"
                + "\n".join(f"- {flaw}" for flaw in flaws)
            )

    def _succeeded(self, run: XComRun, flaws: _Flaws) -> bool:
        """Whether the run succeeded with every task run (a skipped task observed nothing)."""
        if not run.succeeded:
            for where, text in run.failures.items():
                last = text.strip().splitlines()[-1] if text.strip() else "failed"
                flaws.unobserved(f"task {where} of DAG {run.dag_id!r} failed: {last}")
            if not run.failures:
                flaws.unobserved(f"DAG {run.dag_id!r} ended {run.state!r}")
            return False
        states = {task_id: _state(state) for task_id, state in run.task_states.items()}
        not_run = [f"{task_id} ({state})" for task_id, state in states.items() if state != "success"]
        if not_run:
            flaws.unobserved(
                f"DAG {run.dag_id!r} ended 'success' with tasks that did not run: {', '.join(not_run)}; "
                "a task that did not run observed nothing"
            )
            return False
        return True

    def _report(self, run: XComRun, task_id: str, flaws: _Flaws) -> dict[str, Any] | None:
        """What a checking task found: the dict it returned, as it returned it.

        Taken from the object the task pushed, not read back through the backend under test, so
        a backend that loses or empties values cannot turn a report of mismatches into ``{}``.
        None (and a flaw) when the task did not run to success or reported nothing.
        """
        state = _state(run.task_states.get(task_id))
        push = self._push(run, task_id, RETURN_KEY)
        if state != "success" or push is None:
            why = f"ended {state!r}" if state != "success" else "ran but pushed no report"
            flaws.unobserved(f"the checking task {task_id} of DAG {run.dag_id!r} {why}: nothing was checked")
            return None
        if not isinstance(push.pushed, dict):
            flaws.unobserved(
                f"the checking task {task_id} of DAG {run.dag_id!r} reported {push.pushed!r}, not its findings"
            )
            return None
        return push.pushed

    def _pushes(self, run: XComRun, task_id: str, keys: Iterable[str], flaws: _Flaws) -> dict[str, XComPush]:
        """The last push of each key by ``task_id``; a flaw for each key that was never pushed."""
        found: dict[str, XComPush] = {}
        for key in keys:
            push = self._push(run, task_id, key)
            if push is None:
                flaws.unobserved(f"task {task_id} of DAG {run.dag_id!r} never pushed key {key!r}: nothing to check")
            else:
                found[key] = push
        return found

    def _offload_size(self, default: int) -> int:
        """At least ``default`` bytes, and at least the declared threshold: a value to offload."""
        threshold = self._threshold()
        return default if threshold is None else max(default, threshold)

    def _kept_inline(self, push: XComPush, flaws: _Flaws, what: str) -> bool:
        """Whether ``push`` stayed in the DB row; a flaw when a declared threshold says it should not."""
        if push.offloaded:
            return False
        threshold = self._threshold()
        if threshold is not None and (push.size or 0) >= threshold:
            flaws.unobserved(
                f"{what} ({push.size:,} bytes, at least the threshold of {threshold:,}) was kept in the DB, "
                "so this check could not observe what the backend does with stored objects"
            )
        return True

    @staticmethod
    def _push(run: XComRun, task_id: str, key: str) -> XComPush | None:
        pushes = [p for p in run.pushes if p.task_id == task_id and p.key == key]
        return pushes[-1] if pushes else None

    def _diagnose(self, run: XComRun, task_id: str, key: str, expected: Any, got: dict[str, str]) -> str:
        push = self._push(run, task_id, key)
        if push is not None and push.offloaded and got["repr"] == repr(push.stored):
            return (
                f"key {key!r}: the consumer received the stored reference {push.stored!r} instead of the "
                "value: deserialize_value must fetch what the reference points to"
            )
        if got["repr"] == repr(json.dumps(expected)):
            return (
                f"key {key!r}: the value comes back double-encoded: pushed {expected!r}, the consumer "
                f"received the JSON text {json.dumps(expected)!r}"
            )
        return (
            f"key {key!r}: pushed {dags.describe(expected)['repr']} ({type(expected).__name__}), "
            f"the consumer received {got['repr']} ({got['type']})"
        )

    def _probe(self, xcom: XComHarness, reference: Any, flaws: _Flaws, what: str) -> dict[str, Any] | None:
        """What the backend, inside a task, makes of a stored value whose object was purged."""
        run = self._run(xcom, dags.probe_dag(), conf={"reference": reference})
        found = _Flaws()
        report = self._report(run, "read_reference", found) if self._succeeded(run, found) else None
        for flaw in found:
            flaws.unobserved(f"probing whether {what} was purged: {flaw}")
        return report

    def _purged(self, xcom: XComHarness, push: XComPush, latest: XComPush | None, flaws: _Flaws, what: str) -> None:
        if self._kept_inline(push, flaws, what):
            return  # the value lived in the DB row: deleting the row deleted it
        if latest is not None and latest.stored == push.stored:
            return  # the new try wrote the same object again (deterministic keys): nothing leaked
        outcome = self._probe(xcom, push.stored, flaws, what)
        if outcome is None:
            return
        # Raising, or handing back the bare reference (the missing-object check's business),
        # both mean the object is gone.
        if outcome.get("outcome") == "returned" and outcome["value"]["repr"] != repr(push.stored):
            received = outcome["value"]["repr"]
            flaws.append(
                f"{what}: its object is still in storage after purge() ({push.stored!r} still reads as "
                f"{received[:80]}): purge() must delete what serialize_value stored"
            )

    def _earlier_attempt(
        self, xcom: XComHarness, earlier: XComPush, later: XComPush, flaws: _Flaws, what: str, per_attempt: bool
    ) -> None:
        """The earlier attempt's XCom is kept apart (Airflow 3.4) or was purged (before)."""
        if per_attempt:
            self._kept_apart(xcom, earlier, later, flaws, what)
        else:
            self._purged(xcom, earlier, later, flaws, what)

    def _kept_apart(self, xcom: XComHarness, earlier: XComPush, later: XComPush, flaws: _Flaws, what: str) -> None:
        """Airflow 3.4 keeps an earlier attempt's row: its object must still read as that attempt's value."""
        if self._kept_inline(earlier, flaws, what):
            return  # the value lives in the attempt's own DB row
        if later.stored == earlier.stored:
            flaws.append(
                f"{what}: both attempts stored it at {earlier.stored!r}, so the later attempt overwrote the object "
                "the earlier attempt's row (which Airflow 3.4 keeps) points to; store per task instance (implement "
                "store_value and build the path with XComCoordinate.build_path, which includes the attempt's ti_id)"
            )
            return
        outcome = self._probe(xcom, earlier.stored, flaws, what)
        if outcome is None:
            return
        expected = repr(earlier.pushed)[:500]
        if outcome.get("outcome") != "returned" or outcome["value"]["repr"] != expected:
            got = outcome["value"]["repr"][:80] if outcome.get("outcome") == "returned" else outcome.get("error")
            flaws.append(
                f"{what}: its object no longer reads as what that attempt pushed ({earlier.stored!r} gives {got}): "
                "Airflow 3.4 keeps every attempt's XCom row, so the backend must keep the object it points to"
            )

    # -- the checks ------------------------------------------------------------------------

def _is_json_text_of(stored: Any, value: Any) -> bool:
    """Whether ``stored`` is the JSON text of ``value`` (a double encoding), not ``value`` itself."""
    if not isinstance(stored, str) or stored == value:
        return False
    try:
        return bool(json.loads(stored) == value)
    except ValueError:
        return False


def _state(state: Any) -> str:
    """A task's final state; for a mapped task, "success" only when every instance succeeded."""
    if state is None:
        return "never ran"
    if not isinstance(state, list):
        return str(state)
    if not state:
        return "expanded to no instances"
    failed = {index: s for index, s in enumerate(state) if s != "success"}
    if not failed:
        return "success"
    return ", ".join(f"[{index}] {s}" for index, s in failed.items())
