"""How the recorder measures a push: once, fast, and in agreement with the obvious definitions.

The size and hash come from one canonical serialization; plain JSON is decided by walking types.
"""

import enum
import json
import re

import pytest
from pytest_xcom.recording.measure import is_plain_json as _is_plain_json
from pytest_xcom.recording.measure import size_and_sha256 as _size_and_sha256
from pytest_xcom.sizes import json_size


class _Level(enum.IntEnum):
    HIGH = 1


def _stable_id(value: object) -> str:
    """repr without memory addresses: xdist workers must collect identical test ids."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


_PAYLOADS = [
    None,
    True,
    0,
    -17,
    2**70,
    3.25,
    "",
    "ünïcödé ✓ 日本語 🚀 \"quoted\" \\ back\nslash",
    [],
    {},
    [1, "two", None, 3.5, False],
    {"rows": [{"id": 1, "tags": ["a", "b"]}], "meta": {"ok": True, "n": None}},
    {"__classname__": "builtins.set", "__version__": 1, "__data__": [3, 1, 2]},
]


@pytest.mark.parametrize("payload", _PAYLOADS, ids=_stable_id)
def test_one_serialization_gives_the_json_size(payload):
    assert _size_and_sha256(payload)[0] == json_size(payload)


def test_the_hash_ignores_set_member_order_but_not_content():
    def as_set(*members):
        return {"__classname__": "builtins.set", "__version__": 1, "__data__": list(members)}

    assert _size_and_sha256(as_set(1, 2, 3)) == _size_and_sha256(as_set(3, 1, 2))
    assert _size_and_sha256(as_set(1, 2, 3))[1] != _size_and_sha256(as_set(1, 2, 4))[1]


@pytest.mark.parametrize(
    "value",
    [*_PAYLOADS, float("nan"), float("inf"), (1, 2), [1, (2, 3)], {1: "int key"}, b"bytes", {1, 2},
     _Level.HIGH, [_Level.HIGH], {"k": object()}],
    ids=_stable_id,
)
def test_plain_json_means_a_strict_json_round_trip_gives_the_value_back(value):
    try:
        survives = json.loads(json.dumps(value, allow_nan=False)) == value
    except (TypeError, ValueError):
        survives = False
    assert _is_plain_json(value) is survives


def test_a_value_too_deep_to_walk_is_not_plain_json():
    value: object = "leaf"
    for _ in range(5000):
        value = [value]
    assert _is_plain_json(value) is False
