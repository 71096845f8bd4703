"""XCom backends with one flaw each: the backend contract must catch every one of them."""

import json
import uuid

from airflow.sdk.bases.xcom import BaseXCom

try:
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # Airflow 3.0
    from airflow.exceptions import AirflowSkipException

STORE: dict = {}  # stands in for object storage; lives as long as the test process
PREFIX = "mem://"


class _Stored:
    def __init__(self, value):
        self.value = value


class DictStoreXCom(BaseXCom):
    """A correct offloading backend, the base of the broken ones."""

    @classmethod
    def _key(cls, dag_id, run_id, task_id, map_index, key):
        return f"{dag_id}/{run_id}/{task_id}/{map_index}/{key}/{uuid.uuid4()}"

    @classmethod
    def _encode(cls, payload):
        return json.dumps(payload)

    @classmethod
    def serialize_value(cls, value, *, key=None, task_id=None, dag_id=None, run_id=None, map_index=None):
        name = cls._key(dag_id, run_id, task_id, map_index, key)
        STORE[name] = cls._encode(BaseXCom.serialize_value(value))
        return BaseXCom.serialize_value(PREFIX + name)

    @classmethod
    def _missing(cls, reference):
        raise LookupError(f"XCom object {reference!r} is missing from the store")

    @classmethod
    def deserialize_value(cls, result):
        reference = BaseXCom.deserialize_value(result)
        if not (isinstance(reference, str) and reference.startswith(PREFIX)):
            return reference
        raw = STORE.get(reference[len(PREFIX):])
        if raw is None:
            return cls._missing(reference)
        return BaseXCom.deserialize_value(_Stored(json.loads(raw)))

    @classmethod
    def purge(cls, xcom, *args):
        if isinstance(xcom.value, str) and xcom.value.startswith(PREFIX):
            STORE.pop(xcom.value[len(PREFIX):], None)


class ReturnsReference(DictStoreXCom):
    """Forgets to fetch: hands consumers the reference."""

    @classmethod
    def deserialize_value(cls, result):
        return BaseXCom.deserialize_value(result)


class DoubleEncodes(BaseXCom):
    """Keeps values inline but JSON-encodes them twice."""

    @staticmethod
    def serialize_value(value, **kwargs):
        return json.dumps(BaseXCom.serialize_value(value))


class SharedKeyForMapped(DictStoreXCom):
    """Builds object keys without the map index: mapped instances overwrite each other."""

    @classmethod
    def _key(cls, dag_id, run_id, task_id, map_index, key):
        return f"{dag_id}/{run_id}/{task_id}/{key}"


class CollapsesSingleList(DictStoreXCom):
    """Unwraps one-element lists on the way back."""

    @classmethod
    def deserialize_value(cls, result):
        value = super().deserialize_value(result)
        return value[0] if isinstance(value, list) and len(value) == 1 else value


class NeverPurges(DictStoreXCom):
    """Leaves every stored object behind when XComs are cleared or retried."""

    @classmethod
    def purge(cls, xcom, *args):
        pass


class MissingReturnsReference(DictStoreXCom):
    """Hands back the reference string when the object is gone."""

    @classmethod
    def _missing(cls, reference):
        return reference


class LargeReference(DictStoreXCom):
    """Keeps a full copy of the value next to the reference in the DB row."""

    @classmethod
    def serialize_value(cls, value, **kwargs):
        reference = super().serialize_value(value, **kwargs)
        return {"ref": reference, "preview": BaseXCom.serialize_value(value)}

    @classmethod
    def deserialize_value(cls, result):
        return super().deserialize_value(_Stored(result.value["ref"]))

    @classmethod
    def purge(cls, xcom, *args):
        super().purge(_Stored(xcom.value["ref"]))


class LosesUnicode(DictStoreXCom):
    """Stores text as ASCII, replacing what it cannot encode."""

    @classmethod
    def _encode(cls, payload):
        return json.dumps(payload, ensure_ascii=False).encode("ascii", "replace").decode()


class StorageDown(DictStoreXCom):
    """Cannot reach its storage: every push fails."""

    @classmethod
    def serialize_value(cls, value, **kwargs):
        raise RuntimeError("storage is down")


class SkipsEveryPush(DictStoreXCom):
    """Turns a storage outage into a skip: every task that pushes is skipped, and runs "succeed"."""

    @classmethod
    def serialize_value(cls, value, **kwargs):
        raise AirflowSkipException("storage is down")
