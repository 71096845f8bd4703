"""``XComBackendContract``: the standard checks of an XCom backend, as tests to inherit.

::

    from pytest_xcom.contract import XComBackendContract

    class TestMyBackend(XComBackendContract):
        backend = "my_project.xcom_backend.ExclusiveRedisXCom"

Each check runs real DAGs through the harness with the mocked S3 and Redis in place, and fails
with a message that names the flaw it found.
"""

from __future__ import annotations

import pytest

from pytest_xcom import _airflow
from pytest_xcom.contract import dags
from pytest_xcom.contract.base import (
    DEFAULT_SIZES,
    REFERENCE_CHECK_SIZE,
    ContractHelpers,
    _is_json_text_of,
)
from pytest_xcom.harness import XComHarness
from pytest_xcom.record import RETURN_KEY
from pytest_xcom.sizes import human


class XComBackendContract(ContractHelpers):
    """Inherit, set ``backend`` (and ``backend_options``), and every check runs as a test."""

    def test_round_trip_of_every_json_type(self, xcom: XComHarness) -> None:
        """Every JSON type, nesting, unicode, empty values and None reach the consumer unchanged."""
        __tracebackhide__ = True
        with self._check("round_trip_of_every_json_type", "every JSON type reaches the consumer unchanged") as flaws:
            run = self._run(xcom, dags.round_trip_dag())
            if not self._succeeded(run, flaws):
                return
            self._pushes(run, "push", dags.round_trip_cases(), flaws)
            report = self._report(run, "check", flaws)
            for key, got in sorted((report or {}).items()):
                flaws.append(self._diagnose(run, "push", key, dags.JSON_CASES[key], got))

    def test_small_values_are_not_double_encoded(self, xcom: XComHarness) -> None:
        """A value kept in the DB row is stored as JSON once, not as a JSON string of JSON."""
        __tracebackhide__ = True
        with self._check(
            "small_values_are_not_double_encoded", "values kept in the DB are not double-encoded"
        ) as flaws:
            run = self._run(xcom, dags.round_trip_dag())
            if not self._succeeded(run, flaws):
                return
            for key, push in self._pushes(run, "push", dags.round_trip_cases(), flaws).items():
                if _is_json_text_of(push.stored, push.pushed):
                    flaws.append(
                        f"key {key!r}: the DB row holds the JSON text {push.stored!r} instead of the value "
                        f"{push.pushed!r}: serialize_value encodes twice"
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
            pushes = self._pushes(run, "push", sizes, flaws)
            report = self._report(run, "check", flaws)
            for key, got in sorted((report or {}).items()):
                flaws.append(f"{human(sizes[key])} value: " + self._diagnose(run, "push", key, values[key], got))
            if threshold is not None:
                for key, offload in (("below", False), ("at", True), ("above", True)):
                    push = pushes.get(key)
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
            if not self._succeeded(run, flaws):
                return
            self._pushes(run, "stats", dags.STATS, flaws)
            report = self._report(run, "check", flaws)
            for key, got in sorted((report or {}).items()):
                flaws.append(self._diagnose(run, "stats", key, dags.STATS[key], got))

    def test_mapped_upstream_read_whole_and_by_index(self, xcom: XComHarness) -> None:
        """A mapped task's values read all at once (lazily) and one map index at a time."""
        __tracebackhide__ = True
        with self._check("mapped_upstream_read_whole_and_by_index", "mapped values read whole and by index") as flaws:
            run = self._run(xcom, dags.mapped_dag())
            if not self._succeeded(run, flaws):
                return
            whole = self._report(run, "whole", flaws)
            if whole:
                flaws.append(
                    f"read whole, the mapped values were {whole['whole']['repr']}; expected "
                    f"{dags.MAPPED_EXPECTED!r} (map indexes overwriting each other's stored objects?)"
                )
            by_index = self._report(run, "by_index", flaws)
            for index, got in sorted((by_index or {}).items()):
                flaws.append(f"map index {index}: expected {dags.MAPPED_EXPECTED[int(index)]!r}, read {got['repr']}")

    def test_single_expansion_stays_a_one_element_list(self, xcom: XComHarness) -> None:
        """A mapped task that expands once still hands its consumer a one-element list."""
        __tracebackhide__ = True
        with self._check("single_expansion_stays_a_one_element_list", "a single expansion stays a list") as flaws:
            run = self._run(xcom, dags.single_expansion_dag())
            if not self._succeeded(run, flaws):
                return
            report = self._report(run, "check", flaws)
            if report:
                flaws.append(
                    f"the consumer received {report['results']['repr']} instead of "
                    "[{'seen': {'only': 1}}]: a single expansion collapsed"
                )

    def test_value_read_later_equals_what_was_pushed(self, xcom: XComHarness) -> None:
        """A value read several tasks later is still the value that was pushed."""
        __tracebackhide__ = True
        with self._check(
            "value_read_later_equals_what_was_pushed", "a value read later equals what was pushed"
        ) as flaws:
            run = self._run(xcom, dags.later_read_dag())
            if not self._succeeded(run, flaws):
                return
            self._pushes(run, "produce", [RETURN_KEY], flaws)
            report = self._report(run, "much_later", flaws)
            if report:
                flaws.append(self._diagnose(run, "produce", RETURN_KEY, dags.STATS, report["produce"]))

    def test_retry_deletes_and_purges_the_failed_attempts_xcom(self, xcom: XComHarness) -> None:
        """A retry's readers get the retry's XCom, and the first attempt's is dealt with as Airflow does.

        Before Airflow 3.4 the retry deletes the first attempt's XComs and the backend purges what it
        stored for them. From 3.4 each attempt keeps its own XComs: the first attempt's row stays, so
        its object must stay in storage, apart from the retry's (not overwritten by it).
        """
        __tracebackhide__ = True
        per_attempt = _airflow.keeps_xcoms_per_attempt()
        what = _earlier_attempt_expectation("a retry", "the first attempt's XCom", per_attempt)
        with self._check("retry_deletes_and_purges_the_failed_attempts_xcom", what) as flaws:
            run = self._run(xcom, dags.retry_dag(self._offload_size(dags.RETRY_BLOB)))
            if not self._succeeded(run, flaws):
                return
            report = self._report(run, "check", flaws)
            for key, got in sorted((report or {}).items()):
                flaws.append(f"after the retry, {key!r} read as {got['repr']}; expected the second attempt's value")
            deleted = any(d.task_id == "flaky" and d.key == "staged" for d in run.deletes)
            if not per_attempt and not deleted:
                flaws.append("the retry did not delete the first attempt's XCom 'staged'")
            staged = [p for p in run.pushes if p.task_id == "flaky" and p.key == "staged"]
            first = next((p for p in staged if p.try_number == 1), None)
            second = next((p for p in staged if p.try_number == 2), None)
            if first is None or second is None:
                attempts = sorted({p.try_number for p in staged})
                flaws.unobserved(
                    f"task flaky pushed 'staged' in attempt(s) {attempts or 'none'}, not in attempts 1 and 2: "
                    "there was no failed attempt's XCom to look at"
                )
                return
            self._earlier_attempt(xcom, first, second, flaws, "the first attempt's XCom 'staged'", per_attempt)

    def test_clearing_deletes_and_purges_the_previous_xcom(self, xcom: XComHarness) -> None:
        """Re-running a cleared task instance: its readers get the new XCom, the previous one is
        deleted and purged before Airflow 3.4, kept with its attempt (object included) from 3.4."""
        __tracebackhide__ = True
        per_attempt = _airflow.keeps_xcoms_per_attempt()
        what = _earlier_attempt_expectation("clearing", "the previous XCom", per_attempt)
        with self._check("clearing_deletes_and_purges_the_previous_xcom", what) as flaws:
            dag = dags.rerun_dag(self._offload_size(dags.RERUN_BLOB))
            first = self._run(xcom, dag)
            if not self._succeeded(first, flaws):
                return
            previous = self._pushes(first, "stage", [RETURN_KEY], flaws).get(RETURN_KEY)
            options = dict(self.backend_options) or None
            second = xcom.clear_and_rerun(dag, ["stage"], backend=self.backend, backend_options=options)
            if not self._succeeded(second, flaws):
                return
            latest = self._push(second, "stage", RETURN_KEY)
            if latest is None:
                flaws.unobserved("the cleared task stage, run again, pushed nothing: it did not run a second try")
            if not per_attempt and not any(d.task_id == "stage" for d in second.deletes):
                flaws.append("running the cleared task again did not delete its previous XCom")
            if previous is None or latest is None:
                return
            self._earlier_attempt(xcom, previous, latest, flaws, "the cleared task's previous XCom", per_attempt)

    def test_missing_object_is_a_clear_error(self, xcom: XComHarness) -> None:
        """Reading an XCom whose stored object is gone raises, never returns the reference."""
        __tracebackhide__ = True
        with self._check("missing_object_is_a_clear_error", "a missing object is a clear error") as flaws:
            run = self._run(xcom, dags.missing_object_dag(self._offload_size(dags.MISSING_OBJECT_BLOB)))
            if not self._succeeded(run, flaws):
                return
            push = self._pushes(run, "push", [RETURN_KEY], flaws).get(RETURN_KEY)
            if push is None:
                return
            if self._kept_inline(push, flaws, "the pushed value"):
                if flaws.blind:
                    return
                pytest.skip(f"{self.backend} keeps this value in the metadata DB: no stored object can go missing")
            outcome = self._report(run, "purge_then_read", flaws)
            if outcome is None:
                return
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
            size = self._offload_size(REFERENCE_CHECK_SIZE)
            name = "64 KiB" if size == REFERENCE_CHECK_SIZE else human(size)
            run = self._run(xcom, dags.sizes_dag({name: size}))
            if not self._succeeded(run, flaws):
                return
            pushed = self._pushes(run, "push", [name], flaws).get(name)
            if pushed is not None:
                self._kept_inline(pushed, flaws, f"the {name} value")
            for push in run.pushes:
                if push.offloaded and push.stored_size > self.max_reference_size:
                    flaws.append(
                        f"key {push.key!r} ({human(push.size)}) leaves {push.stored_size:,} bytes in the DB: "
                        "store a short reference, not the value or a large envelope"
                    )


def _earlier_attempt_expectation(action: str, xcom: str, per_attempt: bool) -> str:
    """What the retry and clear checks expect of the earlier attempt's XCom on this Airflow."""
    if per_attempt:
        return f"{action} keeps {xcom} and its object apart from the new attempt's (Airflow 3.4)"
    return f"{action} deletes and purges {xcom}"
