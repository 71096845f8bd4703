"""The canonical rendering of received values that manifest v2 compares (no Airflow involved)."""

import dataclasses
import datetime
import enum
import hashlib

from pytest_xcom.record.rendering import VALUE_PREVIEW, render, value_facts


class Colour(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Row:
    id: int
    tags: set


class Opaque:
    pass


class Broken:
    def __repr__(self):
        raise RuntimeError("no repr")


def test_types_stay_visible_and_order_does_not_matter():
    assert render([1, "a", None, True, 1.5]) == '[1, "a", null, true, 1.5]'
    assert render((1,)) == "(1,)" and render((1,)) != render([1]), "a tuple handed over as a list is a change"
    assert render({"b": 1, "a": 2}) == render({"a": 2, "b": 1}) == '{"a": 2, "b": 1}'
    assert render({3, 1, 2}) == "set({1, 2, 3})" and render(frozenset()) == "frozenset({})"
    assert render(float("nan")) == "float(nan)"
    assert render(Colour.RED) == "Colour.RED"
    assert render(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)) == "datetime(2026-01-01T00:00:00+00:00)"
    assert render(Row(1, {"y", "x"})) == 'Row(id=1, tags=set({"x", "y"}))'


def test_memory_addresses_and_failing_reprs_never_make_it_nondeterministic():
    assert render(Opaque()) == render(Opaque()), f"addresses must be dropped: {render(Opaque())!r}"
    assert " at 0x" not in render(Opaque())
    assert render(Broken()) == "<Broken: rendering failed with RuntimeError>"
    looped: list = []
    looped.append(looped)
    assert "[...]" in render(looped) and render(looped).endswith("]]]"), "a value that contains itself renders, cut at a depth"


def test_value_facts_keep_a_preview_and_hash_all_of_it():
    long = "x" * 500
    facts = value_facts(long, None)
    assert len(facts["value"]) == VALUE_PREVIEW and facts["value"].endswith("\u2026")
    assert facts["value_sha256"] == hashlib.sha256(render(long).encode()).hexdigest()
    assert value_facts(long + "y", None)["value"] == facts["value"], "same preview..."
    assert value_facts(long + "y", None)["value_sha256"] != facts["value_sha256"], "...but another hash"
    failed = value_facts(None, "FileNotFoundError: s3://bucket/run-123/key")
    assert failed == {
        "value": "<read failed: FileNotFoundError>",
        "value_type": "error",
        "value_sha256": hashlib.sha256(b"<read failed: FileNotFoundError>").hexdigest(),
    }, "a failed read is recorded by its error type only (its text holds run ids and paths)"
