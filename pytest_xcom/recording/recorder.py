"""The recorder: turns the events the Airflow adapter intercepts into XComPush/XComPull/XComDelete.

It is the :class:`~pytest_xcom._airflow.XComEventSink` of one DAG run. How the events are caught
(the Task SDK's supervisor channel on Airflow 3) is the adapter's business; here they are measured
and recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import traceback
from collections.abc import Iterator
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.record.events import XComDelete, XComPull, XComPush
from pytest_xcom.recording.measure import is_plain_json, size_and_sha256
from pytest_xcom.sizes import json_size

Instance = tuple[str, int]


class Recorder:
    """Collects the XCom events of one DAG run."""

    def __init__(self, backend: type) -> None:
        self.backend = backend
        self.pushes: list[XComPush] = []
        self.pulls: list[XComPull] = []
        self.deletes: list[XComDelete] = []
        self.failures: dict[Instance, str] = {}
        # The default backend stores exactly the serde payload: no second serialization needed.
        base = _airflow.base_xcom_class()
        self._stores_payload = backend.serialize_value is base.serialize_value  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        with _airflow.intercepted(self, self.backend):
            yield

    # -- the XComEventSink ----------------------------------------------------------------------

    def on_push(self, *, by: Instance, task_id: str, map_index: int, key: str, stored: Any, pushed: Any) -> None:
        if pushed is _airflow.NOT_SEEN or self._stores_payload:
            payload = stored
        else:
            payload = _airflow.serialize_payload(pushed)
        value = _airflow.deserialize_payload(payload)
        original = value if pushed is _airflow.NOT_SEEN else pushed
        size, sha256 = size_and_sha256(payload)
        offloaded = stored is not payload and stored != payload
        self.pushes.append(
            XComPush(
                task_id=task_id,
                map_index=map_index,
                key=key,
                value=value,
                size=size,
                stored=stored,
                stored_size=json_size(stored) if offloaded else size,
                offloaded=offloaded,
                json_serializable=is_plain_json(original),
                type_name=type(original).__name__,
                sha256=sha256,
            )
        )

    def on_delete(self, *, by: Instance, task_id: str, map_index: int | None, key: str, purged: bool) -> None:
        self.deletes.append(
            XComDelete(
                task_id=task_id,
                map_index=map_index,
                key=key,
                by_task_id=by[0],
                by_map_index=by[1],
                purged=purged,
            )
        )

    def on_read(
        self,
        *,
        by: Instance,
        task_id: str,
        map_index: int | None,
        key: str,
        found: bool,
        kind: str,
        task_ids_explicit: bool,
    ) -> None:
        self.pulls.append(
            XComPull(
                task_id=by[0],
                map_index=by[1],
                source_task_id=task_id,
                source_map_index=map_index,
                key=key,
                kind=kind,
                found=found,
                task_ids_explicit=task_ids_explicit,
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
            if self.pulls[index].received_type is None:
                self.pulls[index] = dataclasses.replace(self.pulls[index], received_type=received)

    def on_task_end(self, *, task_id: str, map_index: int, state: str, error: BaseException | None) -> None:
        where = (task_id, map_index)
        if error is not None and state not in ("success", "skipped", "deferred"):
            self.failures[where] = format_task_exception(error)
        elif state == "success":
            self.failures.pop(where, None)  # an earlier try failed, this one did not


_HARNESS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")


def _is_machinery(filename: str) -> bool:
    return _airflow.is_airflow_frame(filename) or filename.startswith(_HARNESS_DIR)


def format_task_exception(exc: BaseException) -> str:
    """The traceback of a task's exception, without the frames of Airflow's own machinery."""
    tb = traceback.TracebackException.from_exception(exc)
    own = [frame for frame in tb.stack if not _is_machinery(frame.filename)]
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
