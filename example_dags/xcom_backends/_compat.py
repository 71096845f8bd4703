"""What a backend needs from Airflow's own XCom, on Airflow 3 and on Airflow 2.10 / 2.11.

Airflow 3's ``BaseXCom.serialize_value`` returns a JSON-ready value; Airflow 2's returns the
UTF-8 bytes of the JSON. Both backends keep the serialized value in their store as bytes.
"""

from __future__ import annotations

import json
from typing import Any

try:
    from airflow.sdk.bases.xcom import BaseXCom

    _SERIALIZES_TO_BYTES = False
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.models.xcom import BaseXCom

    _SERIALIZES_TO_BYTES = True

__all__ = ["BaseXCom", "dump", "load", "reference_of"]


class _Stored:
    """The shape BaseXCom.deserialize_value reads: an object with a ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value


def dump(value: Any) -> bytes:
    """``value`` serialized as Airflow's own XCom serializes it, as bytes for the store."""
    payload = BaseXCom.serialize_value(value)
    return payload if _SERIALIZES_TO_BYTES else json.dumps(payload).encode()


def load(body: bytes) -> Any:
    """The inverse of :func:`dump`: what a reader of the value receives."""
    return BaseXCom.deserialize_value(_Stored(body if _SERIALIZES_TO_BYTES else json.loads(body)))


def reference_of(xcom: Any) -> Any:
    """What the metadata DB row of ``xcom`` holds: the reference string the backend wrote there."""
    return BaseXCom.deserialize_value(xcom) if isinstance(xcom.value, bytes) else xcom.value
