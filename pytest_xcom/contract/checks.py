"""``XComBackendContract``: the standard checks of an XCom backend, as tests to inherit.

::

    from pytest_xcom.contract import XComBackendContract

    class TestMyBackend(XComBackendContract):
        backend = "my_project.xcom_backend.ExclusiveRedisXCom"

Each check runs real DAGs through the harness with the mocked S3 and Redis in place, and fails
with a message that names the flaw it found.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from pytest_xcom.contract import dags
from pytest_xcom.harness import XComHarness
from pytest_xcom.record import XComPush, XComRun
from pytest_xcom.sizes import human, parse_size

DEFAULT_SIZES = {"1 KiB": 1024, "48 KiB": 48 * 1024, "1 MiB": 1024 * 1024}


class XComBackendContract:
    """Inherit, set ``backend`` (and ``backend_options``), and every check runs as a test."""

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

    # -- helpers ---------------------------------------------------------------------------

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
        if self.backend == "s3":
            return parse_size(self.backend_options.get("threshold", 0)) or None
        return None

    @contextlib.contextmanager
    def _check(self, name: str, what: str) -> Iterator[list[str]]:
        """Collect the flaws a check finds; fail (or xfail for a known flaw) with all of them."""
        __tracebackhide__ = True
        flaws: list[str] = []
        yield flaws
        known = name in self.known_flaws
        if flaws and known:
            pytest.xfail(f"known flaw of {self.backend}: {flaws[0]}")
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

    def _succeeded(self, run: XComRun, flaws: list[str]) -> bool:
        if run.succeeded:
            return True
        for where, text in run.failures.items():
            last = text.strip().splitlines()[-1] if text.strip() else "failed"
            flaws.append(f"task {where} of DAG {run.dag_id!r} failed: {last}")
        if not run.failures:
            flaws.append(f"DAG {run.dag_id!r} ended {run.state!r}")
        return False

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

    def _probe(self, xcom: XComHarness, reference: Any) -> dict[str, Any]:
        """What the backend, inside a task, makes of a stored value whose object was purged."""
        run = self._run(xcom, dags.probe_dag(), conf={"reference": reference})
        return run.value("read_reference") if run.succeeded else {"outcome": "probe failed"}

    def _purged(self, xcom: XComHarness, push: XComPush, latest: XComPush | None, flaws: list[str], what: str) -> None:
        if not push.offloaded:
            return  # the value lived in the DB row: deleting the row deleted it
        if latest is not None and latest.stored == push.stored:
            return  # the new try wrote the same object again (deterministic keys): nothing leaked
        outcome = self._probe(xcom, push.stored)
        # Raising, or handing back the bare reference (the missing-object check's business),
        # both mean the object is gone.
        if outcome.get("outcome") == "returned" and outcome["value"]["repr"] != repr(push.stored):
            received = outcome["value"]["repr"]
            flaws.append(
                f"{what}: its object is still in storage after purge() ({push.stored!r} still reads as "
                f"{received[:80]}): purge() must delete what serialize_value stored"
            )

    # -- the checks ------------------------------------------------------------------------

    def test_round_trip_of_every_json_type(self, xcom: XComHarness) -> None:
        """Every JSON type, nesting, unicode, empty values and None reach the consumer unchanged."""
        __tracebackhide__ = True
        with self._check("round_trip_of_every_json_type", "every JSON type reaches the consumer unchanged") as flaws:
            run = self._run(xcom, dags.round_trip_dag())
            if self._succeeded(run, flaws):
                for key, got in sorted(run.value("check").items()):
                    flaws.append(self._diagnose(run, "push", key, dags.JSON_CASES[key], got))

    def test_small_values_are_not_double_encoded(self, xcom: XComHarness) -> None:
        """A value kept in the DB row is stored as JSON once, not as a JSON string of JSON."""
        __tracebackhide__ = True
        with self._check(
            "small_values_are_not_double_encoded", "values kept in the DB are not double-encoded"
        ) as flaws:
            run = self._run(xcom, dags.round_trip_dag())
            for push in run.pushes:
                if push.task_id == "push" and _is_json_text_of(push.stored, push.value):
                    flaws.append(
                        f"key {push.key!r}: the DB row holds the JSON text {push.stored!r} instead of the value "
                        f"{push.value!r}: serialize_value encodes twice"
                    )

    def test_values_below_at_and_above_the_threshold(self, xcom: XComHarness) -> None:
        """Values one byte below, at and above the threshold (or 1 KiB .. 1 MiB) survive."""
        __tracebackhide__ = True
        threshold = self._threshold()
        sizes = (
            DEFAULT_SIZES if threshold is None else {"below": threshold - 1, "at": threshold, "above": threshold + 1}
        )
        with self._check(
            "values_below_at_and_above_the_threshold", "values around the size threshold survive"
        ) as flaws:
            run = self._run(xcom, dags.sizes_dag(sizes))
            if not self._succeeded(run, flaws):
                return
            values = dags.sized_values(sizes)
            for key, got in sorted(run.value("check").items()):
                flaws.append(f"{human(sizes[key])} value: " + self._diagnose(run, "push", key, values[key], got))
            if threshold is not None:
                for key, offload in (("below", False), ("at", True), ("above", True)):
                    push = self._push(run, "push", key)
                    if push is not None and push.offloaded != offload:
                        flaws.append(
                            f"a value of {sizes[key]:,} bytes ({key} the threshold of {threshold:,}) was "
                            + (
                                "offloaded; it should stay in the DB"
                                if push.offloaded
                                else "kept in the DB; it should be offloaded"
                            )
                        )

    def test_multiple_outputs_reach_their_consumers(self, xcom: XComHarness) -> None:
        """``multiple_outputs``: one XCom per key, each read intact."""
        __tracebackhide__ = True
        with self._check(
            "multiple_outputs_reach_their_consumers", "multiple_outputs keys reach their consumers"
        ) as flaws:
            run = self._run(xcom, dags.multiple_outputs_dag())
            if self._succeeded(run, flaws):
                for key, got in sorted(run.value("check").items()):
                    flaws.append(self._diagnose(run, "stats", key, dags.STATS[key], got))

    def test_mapped_upstream_read_whole_and_by_index(self, xcom: XComHarness) -> None:
        """A mapped task's values read all at once (lazily) and one map index at a time."""
        __tracebackhide__ = True
        with self._check("mapped_upstream_read_whole_and_by_index", "mapped values read whole and by index") as flaws:
            run = self._run(xcom, dags.mapped_dag())
            if not self._succeeded(run, flaws):
                return
            if run.value("whole"):
                flaws.append(
                    f"read whole, the mapped values were {run.value('whole')['whole']['repr']}; expected "
                    f"{dags.MAPPED_EXPECTED!r} (map indexes overwriting each other's stored objects?)"
                )
            for index, got in sorted(run.value("by_index").items()):
                flaws.append(f"map index {index}: expected {dags.MAPPED_EXPECTED[int(index)]!r}, read {got['repr']}")

    def test_single_expansion_stays_a_one_element_list(self, xcom: XComHarness) -> None:
        """A mapped task that expands once still hands its consumer a one-element list."""
        __tracebackhide__ = True
        with self._check("single_expansion_stays_a_one_element_list", "a single expansion stays a list") as flaws:
            run = self._run(xcom, dags.single_expansion_dag())
            if self._succeeded(run, flaws) and run.value("check"):
                flaws.append(
                    f"the consumer received {run.value('check')['results']['repr']} instead of "
                    "[{'seen': {'only': 1}}]: a single expansion collapsed"
                )

    def test_value_read_later_equals_what_was_pushed(self, xcom: XComHarness) -> None:
        """A value read several tasks later is still the value that was pushed."""
        __tracebackhide__ = True
        with self._check(
            "value_read_later_equals_what_was_pushed", "a value read later equals what was pushed"
        ) as flaws:
            run = self._run(xcom, dags.later_read_dag())
            if self._succeeded(run, flaws) and run.value("much_later"):
                flaws.append(
                    self._diagnose(run, "produce", "return_value", dags.STATS, run.value("much_later")["produce"])
                )

    def test_retry_deletes_and_purges_the_failed_attempts_xcom(self, xcom: XComHarness) -> None:
        """A retry deletes the first attempt's XComs and purges what the backend stored for them."""
        __tracebackhide__ = True
        with self._check(
            "retry_deletes_and_purges_the_failed_attempts_xcom", "a retry deletes and purges the first attempt's XCom"
        ) as flaws:
            run = self._run(xcom, dags.retry_dag())
            if not self._succeeded(run, flaws):
                return
            for key, got in sorted(run.value("check").items()):
                flaws.append(f"after the retry, {key!r} read as {got['repr']}; expected the second attempt's value")
            if not any(d.task_id == "flaky" and d.key == "staged" for d in run.deletes):
                flaws.append("the retry did not delete the first attempt's XCom 'staged'")
            first = next((p for p in run.pushes if p.task_id == "flaky" and p.key == "staged"), None)
            if first is not None:
                self._purged(
                    xcom, first, self._push(run, "flaky", "staged"), flaws, "the first attempt's XCom 'staged'"
                )

    def test_clearing_deletes_and_purges_the_previous_xcom(self, xcom: XComHarness) -> None:
        """Re-running cleared task instances deletes their XComs and purges stored objects."""
        __tracebackhide__ = True
        with self._check(
            "clearing_deletes_and_purges_the_previous_xcom", "clearing deletes and purges the previous XCom"
        ) as flaws:
            dag = dags.rerun_dag()
            first = self._run(xcom, dag)
            if not self._succeeded(first, flaws):
                return
            options = dict(self.backend_options) or None
            second = xcom.clear_and_rerun(dag, ["stage"], backend=self.backend, backend_options=options)
            if not self._succeeded(second, flaws):
                return
            if not any(d.task_id == "stage" for d in second.deletes):
                flaws.append("running the cleared task again did not delete its previous XCom")
            previous = self._push(first, "stage", "return_value")
            if previous is not None:
                latest = self._push(second, "stage", "return_value")
                self._purged(xcom, previous, latest, flaws, "the cleared task's previous XCom")

    def test_missing_object_is_a_clear_error(self, xcom: XComHarness) -> None:
        """Reading an XCom whose stored object is gone raises, never returns the reference."""
        __tracebackhide__ = True
        with self._check("missing_object_is_a_clear_error", "a missing object is a clear error") as flaws:
            run = self._run(xcom, dags.missing_object_dag())
            if not self._succeeded(run, flaws):
                return
            push = self._push(run, "push", "return_value")
            if push is None or not push.offloaded:
                pytest.skip(f"{self.backend} keeps this value in the metadata DB: no stored object can go missing")
            outcome = run.value("purge_then_read")
            if outcome["outcome"] == "returned" and outcome["value"]["repr"] == repr(push.stored):
                flaws.append(
                    f"a missing object silently comes back as its reference string {push.stored!r}: "
                    "consumers would get a path instead of data; raise an error naming the missing object"
                )
            elif outcome["outcome"] == "returned":
                flaws.append(
                    f"after purge() the object still reads as {outcome['value']['repr'][:80]}: purge() does not "
                    "delete what serialize_value stored"
                )
            elif not outcome.get("error", "").partition(": ")[2].strip():
                flaws.append(
                    f"reading a missing object raises {outcome['error']!r} with no message saying what is missing"
                )

    def test_stored_reference_is_small(self, xcom: XComHarness) -> None:
        """What an offloaded value leaves in the metadata DB is a small reference."""
        __tracebackhide__ = True
        with self._check(
            "stored_reference_is_small",
            f"an offloaded value leaves at most {self.max_reference_size:,} bytes in the DB",
        ) as flaws:
            run = self._run(xcom, dags.sizes_dag({"64 KiB": 64 * 1024}))
            if not self._succeeded(run, flaws):
                return
            for push in run.pushes:
                if push.offloaded and push.stored_size > self.max_reference_size:
                    flaws.append(
                        f"key {push.key!r} ({human(push.size)}) leaves {push.stored_size:,} bytes in the DB: "
                        "store a short reference, not the value or a large envelope"
                    )


def _is_json_text_of(stored: Any, value: Any) -> bool:
    """Whether ``stored`` is the JSON text of ``value`` (a double encoding), not ``value`` itself."""
    if not isinstance(stored, str) or stored == value:
        return False
    try:
        return bool(json.loads(stored) == value)
    except ValueError:
        return False
