"""The single interception point: every XCom message between task code and the supervisor.

Under ``dag.test()`` task code reaches the (in-process) supervisor through
``SUPERVISOR_COMMS.send(msg)``. Wrapping that one method sees every SetXCom, GetXCom,
GetXComSequenceItem/Slice and DeleteXCom, with the task instance that sent it, including the lazy
reads of mapped upstreams that never go through ``xcom_pull``. Three small markers add context the
messages do not carry: whether a read happens inside ``XComArg.resolve`` (an argument) or
``ti.xcom_pull`` (explicit), the raw value handed to the backend's ``serialize_value`` (the
payload before any offloading), and the error of each task instance that failed.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import math
import os
import traceback
from collections.abc import Iterator
from typing import Any, Optional

from pytest_xcom import _compat
from pytest_xcom.record import XComDelete, XComPull, XComPush
from pytest_xcom.sizes import json_size

# "argument" inside XComArg.resolve, ("explicit", task_ids_given) inside ti.xcom_pull.
_read_context: contextvars.ContextVar[Optional[tuple[str, bool]]] = contextvars.ContextVar(
    "pytest_xcom_read_context", default=None
)

_NOT_SEEN = object()


_PLAIN_SCALARS = (str, int, bool, type(None))


def _is_plain_json(value: Any) -> bool:
    """True when ``value`` survives a strict JSON round trip unchanged (no serde needed)."""
    try:
        return _only_plain_json_types(value)
    except RecursionError:
        return False


def _only_plain_json_types(value: Any) -> bool:
    # Exact types: a walk costs nothing per string byte, unlike a dumps/loads round trip.
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if kind is float:
        return math.isfinite(value)  # NaN and infinities are not JSON
    if kind is list:
        return all(_only_plain_json_types(item) for item in value)
    if kind is dict:
        return all(type(key) is str and _only_plain_json_types(item) for key, item in value.items())
    return _survives_json_round_trip(value)  # subclasses (enums, ...) may still come back equal


def _survives_json_round_trip(value: Any) -> bool:
    try:
        return bool(json.loads(json.dumps(value, allow_nan=False)) == value)
    except (TypeError, ValueError, RecursionError):
        return False


_UNORDERED = ("builtins.set", "builtins.frozenset")


def _canonical(payload: Any) -> Any:
    """The payload with serde's set members in a fixed order: iteration order follows the hash seed."""
    if isinstance(payload, dict):
        canonical = {key: _canonical(value) for key, value in payload.items()}
        if canonical.get("__classname__") in _UNORDERED and isinstance(canonical.get("__data__"), list):
            canonical["__data__"] = sorted(canonical["__data__"], key=lambda item: json.dumps(item, sort_keys=True))
        return canonical
    if isinstance(payload, list):
        return [_canonical(item) for item in payload]
    return payload


def _size_and_sha256(payload: Any) -> tuple[int, str]:
    """JSON size and canonical hash from one serialization.

    Sorting keys and set members reorders tokens without changing them, and ``json.dumps``
    escapes non-ASCII, so the canonical text is exactly as long as ``json_size(payload)``.
    """
    text = json.dumps(_canonical(payload), sort_keys=True).encode("ascii")
    return len(text), hashlib.sha256(text).hexdigest()


class Recorder:
    """Collects the XCom events of one DAG run."""

    def __init__(self, backend: type) -> None:
        self.backend = backend
        self.pushes: list[XComPush] = []
        self.pulls: list[XComPull] = []
        self.deletes: list[XComDelete] = []
        self.failures: dict[tuple[str, int], str] = {}
        self._raw_values: dict[tuple[str, int, str], Any] = {}
        # (task_id, key) -> map indexes pushed so far: reads look here instead of scanning pushes
        self._pushed: dict[tuple[str, str], set[int]] = {}
        self._purged = False
        base = _compat.base_xcom_class()
        # The default backend stores exactly the serde payload: no second serialization needed.
        self._stores_payload = backend.serialize_value is base.serialize_value  # type: ignore[attr-defined]

    # -- installing the interception -----------------------------------------------------

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_compat.patched(_compat.comms_class(), "send", self._wrap_send))
            stack.enter_context(_compat.patched(_compat.supervisor_class(), "start", self._wrap_start))
            stack.enter_context(
                _compat.patched(_compat.runtime_task_instance_class(), "xcom_pull", self._wrap_xcom_pull)
            )
            for cls in _compat.xcom_arg_classes():
                if "resolve" in cls.__dict__:
                    stack.enter_context(_compat.patched(cls, "resolve", self._wrap_resolve))
            stack.enter_context(_compat.xcom_backend_replaced(self._recording_backend()))
            yield

    def _recording_backend(self) -> type:
        recorder = self
        backend = self.backend

        class RecordingXCom(backend):  # type: ignore[valid-type, misc]
            @classmethod
            def serialize_value(cls, value: Any, **kwargs: Any) -> Any:
                stored = super().serialize_value(value, **kwargs)
                where = (kwargs.get("task_id"), kwargs.get("map_index", -1), kwargs.get("key"))
                recorder._raw_values[where] = value  # type: ignore[index]
                return stored

            @classmethod
            def purge(cls, xcom: Any, *args: Any) -> None:
                recorder._purged = True
                super().purge(xcom, *args)

            @classmethod
            def delete(cls, *args: Any, **kwargs: Any) -> None:
                # delete() reads the row to know what to purge: housekeeping, not a consumer's read
                token = _read_context.set(("delete", True))
                try:
                    super().delete(*args, **kwargs)
                finally:
                    _read_context.reset(token)

        RecordingXCom.__name__ = backend.__name__
        RecordingXCom.__qualname__ = backend.__qualname__
        RecordingXCom.__module__ = backend.__module__
        return RecordingXCom

    def _wrap_send(self, original: Any) -> Any:
        recorder = self

        def send(comms: Any, msg: Any) -> Any:
            response = original(comms, msg)
            kind = _compat.message_type(msg)
            if kind in _compat.XCOM_MESSAGES:
                recorder.observe(_compat.comms_task_instance(comms), kind, msg, response)
            return response

        return send

    def _wrap_start(self, original: Any) -> Any:
        recorder = self
        start = original.__func__

        def wrapped(cls: type, *, what: Any, task: Any, **kwargs: Any) -> Any:
            where = (what.task_id, what.map_index)
            try:
                result = start(cls, what=what, task=task, **kwargs)
            except BaseException as exc:
                recorder.failures[where] = _format_exception(exc)
                raise
            state = str(getattr(result.state, "value", result.state))
            if result.error is not None and state not in ("success", "skipped", "deferred"):
                recorder.failures[where] = _format_exception(result.error)
            elif state == "success":
                recorder.failures.pop(where, None)  # an earlier try failed, this one did not
            return result

        return classmethod(wrapped)

    # -- what a read handed to the task ------------------------------------------------------

    def _received(self, first_pull: int, value: Any) -> None:
        """Note the type of what the reads since ``first_pull`` produced for the task.

        That is how a single mapped result collapsing to a bare value (instead of a one-element
        list) shows up in the record.
        """
        received = type(value).__name__
        for index in range(first_pull, len(self.pulls)):
            if self.pulls[index].received_type is None:
                self.pulls[index] = dataclasses.replace(self.pulls[index], received_type=received)

    def _wrap_resolve(self, original: Any) -> Any:
        recorder = self

        def resolve(arg: Any, *args: Any, **kwargs: Any) -> Any:
            token = _read_context.set(("argument", True))
            first = len(recorder.pulls)
            try:
                value = original(arg, *args, **kwargs)
            finally:
                _read_context.reset(token)
            recorder._received(first, value)
            return value

        return resolve

    def _wrap_xcom_pull(self, original: Any) -> Any:
        recorder = self

        def xcom_pull(ti: Any, task_ids: Any = None, *args: Any, **kwargs: Any) -> Any:
            if _read_context.get() is not None:  # resolving an argument: Airflow's read, not the user's
                return original(ti, task_ids, *args, **kwargs)
            token = _read_context.set(("explicit", task_ids is not None))
            first = len(recorder.pulls)
            try:
                value = original(ti, task_ids, *args, **kwargs)
            finally:
                _read_context.reset(token)
            recorder._received(first, value)
            return value

        return xcom_pull

    # -- turning messages into events --------------------------------------------------------

    def observe(self, reader: tuple[str, int], kind: str, msg: Any, response: Any) -> None:
        if kind == "SetXCom":
            self._on_push(msg)
        elif kind == "DeleteXCom":
            self.deletes.append(
                XComDelete(
                    task_id=msg.task_id,
                    map_index=msg.map_index,
                    key=msg.key,
                    by_task_id=reader[0],
                    by_map_index=reader[1],
                    purged=self._purged,
                )
            )
            self._purged = False
        elif kind == "GetXCom":
            source_index = msg.map_index if msg.map_index is not None else -1
            found = not _compat.is_error_response(response) and (
                getattr(response, "value", None) is not None or self._was_pushed(msg.task_id, source_index, msg.key)
            )
            self._on_pull(reader, msg, source_index, found, default_kind="explicit")
        elif kind == "GetXComSequenceSlice":
            found = not _compat.is_error_response(response) and bool(getattr(response, "root", None))
            self._on_pull(reader, msg, None, found, default_kind="explicit")
        elif kind == "GetXComSequenceItem":
            indexes = self._pushed_indexes(msg.task_id, msg.key)
            found = not _compat.is_error_response(response)
            if not found and msg.offset == len(indexes):
                return  # iteration probing one past the end: how a lazy sequence stops, not a read
            item_index: Optional[int]
            try:
                item_index = indexes[msg.offset]  # negative offsets too: lazy sequences allow [-1]
            except IndexError:
                item_index = None
            self._on_pull(reader, msg, item_index, found, default_kind="argument")
        # GetXComCount reads only how many values exist, not a value: not a pull.

    def _on_push(self, msg: Any) -> None:
        stored = msg.value
        map_index = msg.map_index if msg.map_index is not None else -1
        raw = self._raw_values.pop((msg.task_id, map_index, msg.key), _NOT_SEEN)
        if raw is _NOT_SEEN or self._stores_payload:
            payload = stored
        else:
            payload = _compat.serialize_payload(raw)
        value = _compat.deserialize_payload(payload)
        original = value if raw is _NOT_SEEN else raw
        self._pushed.setdefault((msg.task_id, msg.key), set()).add(map_index)
        size, sha256 = _size_and_sha256(payload)
        offloaded = stored is not payload and stored != payload
        self.pushes.append(
            XComPush(
                task_id=msg.task_id,
                map_index=map_index,
                key=msg.key,
                value=value,
                size=size,
                stored=stored,
                stored_size=json_size(stored) if offloaded else size,
                offloaded=offloaded,
                json_serializable=_is_plain_json(original),
                type_name=type(original).__name__,
                sha256=sha256,
            )
        )

    def _on_pull(
        self, reader: tuple[str, int], msg: Any, source_index: Optional[int], found: bool, default_kind: str
    ) -> None:
        context = _read_context.get()
        kind, task_ids_given = context if context is not None else (default_kind, True)
        if kind == "delete":
            return
        self.pulls.append(
            XComPull(
                task_id=reader[0],
                map_index=reader[1],
                source_task_id=msg.task_id,
                source_map_index=source_index,
                key=msg.key,
                kind=kind,
                found=found,
                task_ids_explicit=task_ids_given,
            )
        )

    def _pushed_indexes(self, task_id: str, key: str) -> list[int]:
        return sorted(self._pushed.get((task_id, key), ()))

    def _was_pushed(self, task_id: str, map_index: int, key: str) -> bool:
        return map_index in self._pushed.get((task_id, key), ())


def _is_machinery(filename: str) -> bool:
    return _compat.is_airflow_frame(filename) or filename.startswith(_HARNESS_DIR)


_HARNESS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


def _format_exception(exc: BaseException) -> str:
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
