"""The recorder: turns the events the Airflow adapter intercepts into XComPush/XComPull/XComDelete.

It is the :class:`~pytest_xcom._airflow.XComEventSink` of one DAG run. How the events are caught
(the Task SDK's supervisor channel on Airflow 3) is the adapter's business; here they are measured
and recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import traceback
from collections.abc import Iterator
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom._airflow.sink import Instance
from pytest_xcom.record.events import Attempts, TriggerXComs, XComDelete, XComPull, XComPush, standing_pushes
from pytest_xcom.recording.measure import measure_push
from pytest_xcom.tracebacks import is_machinery_frame


class Recorder:
    """Collects the XCom events of one DAG run, in one ordered log (``seq`` on every event)."""

    def __init__(self, backend: type) -> None:
        self.backend = backend
        self.pushes: list[XComPush] = []
        self.pulls: list[XComPull] = []
        self.deletes: list[XComDelete] = []
        self.failures: dict[tuple[str, int, int | None], str] = {}
        # (task_id, map_index, iteration) -> the latest attempt that started: with Airflow 3.4's
        # per-attempt XComs, what an earlier attempt pushed no longer stands once a later one runs.
        self.attempts: Attempts = {}
        self._per_attempt = _airflow.keeps_xcoms_per_attempt()
        self.internal_errors: list[str] = []
        self._unseen: set[int] = set()  # indexes of pushes whose pushed object was not seen
        # Offloaded pushes by their stored reference: a read is matched in one lookup, not a scan
        self._by_reference: dict[str, XComPush] = {}
        self.trigger_xcoms: list[TriggerXComs] = []
        self._seq = itertools.count(1)
        # The default backend stores exactly the serde payload: no second serialization needed,
        # and reading a row back is serde's deserialize, which touches nothing outside the process.
        self._stores_payload = _airflow.stores_serde_payload(backend)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        with _airflow.intercepted(self, self.backend):
            yield

    # -- the XComEventSink ----------------------------------------------------------------------

    def on_push(
        self,
        *,
        by: Instance,
        task_id: str,
        map_index: int,
        key: str,
        stored: Any,
        pushed: Any,
        iteration: int | None = None,
        source: str = "task",
    ) -> None:
        try_number = by.try_number if by.task_id == task_id else 1
        self._record_push(
            task_id, map_index, key, stored, pushed, try_number=try_number, iteration=iteration, source=source
        )

    def on_given(self, *, task_id: str, map_index: int, key: str, stored: Any, pushed: Any) -> None:
        """An XCom the test gave (a partial run), written before any task ran: measured like a push.

        ``try_number`` is 0: no attempt of the task pushed it.
        """
        self._record_push(task_id, map_index, key, stored, pushed, try_number=0, given=True, source="given")

    def _record_push(self, task_id: str, map_index: int, key: str, stored: Any, pushed: Any, **origin: Any) -> None:
        seen = pushed is not _airflow.NOT_SEEN
        # What Airflow's server writes itself (a loop decision's reason) never passes the backend.
        as_is = self._stores_payload or not seen or origin.get("source") == "airflow"
        measured = measure_push(pushed if seen else None, stored, payload_is_stored=as_is)
        if not seen:
            self._unseen.add(len(self.pushes))  # the pushed object is what reads back, filled in after the run
        push = XComPush(
            task_id=task_id,
            map_index=map_index,
            key=key,
            value=None,  # read back after the run: see read_back_values
            pushed=pushed if seen else None,
            stored=stored,
            type_name=type(pushed).__name__ if seen else "",
            seq=next(self._seq),
            **origin,
            **measured,
        )
        self.pushes.append(push)
        if push.offloaded and isinstance(stored, str):
            self._by_reference[stored] = push

    def on_delete(
        self, *, by: Instance, task_id: str, map_index: int | None, key: str, purged: bool, iteration: int | None = None
    ) -> None:
        self.deletes.append(
            XComDelete(
                task_id=task_id,
                map_index=map_index,
                key=key,
                by_task_id=by.task_id or None,
                by_map_index=by.map_index,
                purged=purged,
                try_number=by.try_number,
                seq=next(self._seq),
                iteration=iteration,
            )
        )

    def on_read(
        self,
        *,
        by: Instance,
        dag_id: str,
        task_id: str,
        map_index: int | None,
        key: str,
        found: bool,
        kind: str,
        task_ids_explicit: bool,
        include_prior_dates: bool,
        source_iteration: int | None = None,
        previous_iteration: bool = False,
    ) -> None:
        self.pulls.append(
            XComPull(
                task_id=by.task_id,
                map_index=by.map_index,
                source_task_id=task_id,
                source_map_index=map_index,
                key=key,
                kind=kind,
                found=found,
                task_ids_explicit=task_ids_explicit,
                try_number=by.try_number,
                source_dag_id=dag_id,
                include_prior_dates=include_prior_dates,
                seq=next(self._seq),
                iteration=by.iteration,
                source_iteration=source_iteration,
                previous_iteration=previous_iteration,
            )
        )

    def read_count(self) -> int:
        return len(self.pulls)

    def on_received(self, first_read: int, value: Any) -> None:
        """Note the type of what the reads since ``first_read`` handed to the task.

        That is how a single mapped result collapsing to a bare value (instead of a one-element
        list) shows up in the record.
        """
        received = type(value).__name__
        for index in range(first_read, len(self.pulls)):
            pull = self.pulls[index]
            if pull.received_type is None:
                pull = dataclasses.replace(pull, received_type=received)
            reference = self._reference_in_place_of_value(pull, value)
            if reference is not None:
                pull = dataclasses.replace(pull, received_reference=reference)
            self.pulls[index] = pull

    def _reference_in_place_of_value(self, pull: XComPull, value: Any) -> str | None:
        """``value`` when it is the stored reference of the offloaded push ``pull`` found, not its value.

        Airflow's object-storage backend hands a reader the reference itself when it cannot fetch
        the object (missing, not yet written, unreadable): the task then works on a string. The
        record read back after the run would show the value; this is what the reader really got.
        """
        if not isinstance(value, str) or not pull.found:
            return None
        push = self._by_reference.get(value)
        if push is not None and pull.reads(push) and not _equal(value, push.pushed):
            return value
        return None

    def on_task_start(self, *, instance: Instance) -> None:
        if self._per_attempt:
            where = (instance.task_id, instance.map_index, instance.iteration)
            self.attempts[where] = max(self.attempts.get(where, 0), instance.try_number)

    def on_task_end(self, *, instance: Instance, state: str, error: BaseException | None) -> None:
        where = (instance.task_id, instance.map_index, instance.iteration)
        if error is not None and state not in ("success", "skipped", "deferred"):
            self.failures[where] = format_task_exception(error)
        elif state == "success":
            self.failures.pop(where, None)  # an earlier try failed, this one did not

    def on_trigger_event(self, *, by: Instance, trigger: str, xcoms: dict[str, Any]) -> None:
        self.trigger_xcoms.append(
            TriggerXComs(
                task_id=by.task_id,
                map_index=by.map_index,
                trigger=trigger,
                xcoms=xcoms,
                try_number=by.try_number,
                seq=next(self._seq),
                iteration=by.iteration,
            )
        )

    def on_internal_error(self, where: str, error: Exception) -> None:
        self.internal_errors.append(f"{where}: {''.join(traceback.format_exception(error)).rstrip()}")

    # -- after the run ---------------------------------------------------------------------------

    def read_back_values(self) -> None:
        """Fill in what readers get: the backend's ``deserialize_value`` of each stored row.

        Called after the run, never inside task code (so it cannot change a task's outcome, nor meet
        a frozen clock). Airflow's own backend only deserializes what the row holds: every push is
        read back. A custom backend may fetch from storage: only the pushes that stand at the end are
        read back, once; one replaced or deleted during the run is not.
        """
        standing = {id(push) for push in standing_pushes(self.pushes, self.deletes, self.attempts)}
        references = {pull.received_reference for pull in self.pulls if pull.received_reference is not None}
        for index, push in enumerate(self.pushes):
            if push.source == "airflow":  # stored as it is, by the server: no backend reads it back
                value, error = _airflow.deserialize_payload(push.stored), None
            elif self._stores_payload or id(push) in standing:
                value, error = _read_back(self.backend, push.stored)
            else:
                value, error = None, "replaced or deleted during the run before pytest-xcom read it back"
            pushed = value if index in self._unseen else push.pushed
            got_reference = isinstance(push.stored, str) and push.stored in references
            self.pushes[index] = dataclasses.replace(
                push,
                value=value,
                value_error=error,
                pushed=pushed,
                type_name=type(pushed).__name__ if index in self._unseen else push.type_name,
                round_trips=error is None and _equal(value, pushed) and not got_reference,
            )


def _read_back(backend: type, stored: Any) -> tuple[Any, str | None]:
    try:
        # Under a frozen clock Airflow's deserializer builds freezegun's fake datetimes; production
        # readers get real ones.
        return _airflow.as_real_time(_airflow.received_value(backend, stored)), None
    except Exception as exc:  # the backend's own error is what a reader would have met
        return None, f"{type(exc).__name__}: {exc}"


def _equal(received: Any, pushed: Any) -> bool:
    """``received == pushed`` for any two objects: False when the comparison raises or is ambiguous."""
    try:
        result = received == pushed
        if isinstance(result, bool):
            return result and type(received) is type(pushed)
        equals = getattr(received, "equals", None)  # DataFrame-like objects compare element-wise
        return bool(equals(pushed)) if callable(equals) else False
    except Exception:
        return False


def format_task_exception(exc: BaseException) -> str:
    """The traceback of a task's exception, without the frames of Airflow's own machinery."""
    tb = traceback.TracebackException.from_exception(exc)
    own = [frame for frame in tb.stack if not is_machinery_frame(frame.filename)]
    hidden = len(tb.stack) - len(own)
    tb.stack = traceback.StackSummary.from_list(own or tb.stack[-3:])
    text = "".join(tb.format())
    if hidden and own:
        text = text.replace(
            "Traceback (most recent call last):\n",
            f"Traceback (most recent call last; {hidden} Airflow frames hidden):\n",
            1,
        )
    return text
