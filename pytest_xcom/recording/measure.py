"""Measuring a pushed value: its serialized size, a canonical hash, and whether it is plain JSON."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from pytest_xcom import _airflow

_PLAIN_SCALARS = (str, int, bool, type(None))
_UNORDERED = ("builtins.set", "builtins.frozenset")


def is_plain_json(value: Any) -> bool:
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


def size_and_sha256(payload: Any) -> tuple[int, str]:
    """JSON size and canonical hash from one serialization.

    Sorting keys and set members reorders tokens without changing them, and ``json.dumps``
    escapes non-ASCII, so the canonical text is exactly as long as ``json_size(payload)``.
    """
    text = json.dumps(_canonical(payload), sort_keys=True).encode("ascii")
    return len(text), hashlib.sha256(text).hexdigest()


def _guarded_plain_json(value: Any) -> bool:
    try:
        return is_plain_json(value)
    except Exception:  # a user's __eq__ or __iter__ may raise: not plain JSON then
        return False


def measure_push(pushed: Any, stored: Any, *, payload_is_stored: bool) -> dict[str, Any]:
    """Size, hash, storage and JSON facts of one push, measured without ever raising.

    ``size`` is the value serialized the way Airflow serializes XComs (serde, then JSON). With
    Airflow's own backend that is exactly what was stored; with a custom backend the pushed object
    is serialized once more here, guarded: when Airflow's serializer cannot serialize it (a type
    only the backend knows), ``size`` is None and ``size_error`` says why.
    """

    facts: dict[str, Any] = {"json_serializable": _guarded_plain_json(pushed), "size_error": None}
    stored_size, stored_sha = size_and_sha256(stored)
    if payload_is_stored:
        facts.update(size=stored_size, sha256=stored_sha, stored_size=stored_size, offloaded=False)
        return facts
    try:
        payload = _airflow.serialize_payload(pushed)
        size, sha256 = size_and_sha256(payload)
        payload_known = True
    except Exception as exc:  # Airflow's serializer refuses it; the backend stored it anyway
        size, sha256, payload_known = None, stored_sha, False
        facts["size_error"] = f"{type(exc).__name__}: {exc}"
    # Unknown payload: Airflow's serializer refused the object, so whatever the backend stored is not
    # Airflow's serialization of it (a reference, or the backend's own encoding).
    offloaded = not payload_known or stored != payload
    facts.update(size=size, sha256=sha256, stored_size=stored_size, offloaded=offloaded)
    return facts
