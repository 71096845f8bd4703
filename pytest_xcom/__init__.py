"""pytest-xcom: test the XCom traffic of Apache Airflow DAGs.

Importing this package never imports Airflow. The names below are the public API; the classes
behind the fixtures are exported for annotations (``def test_x(xcom: XComHarness)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_xcom.errors import (
    BackendError,
    DagFileError,
    DagRunError,
    DatabaseServerError,
    IsolationError,
    NoRunError,
    PolicyError,
    RecordingError,
    SizeError,
    SnapshotError,
    XComError,
    XComLookupError,
    XComTypeError,
    XComValueError,
)
from pytest_xcom.record import Expansion, Pushes, XComDelete, XComLoop, XComPull, XComPush, XComRun
from pytest_xcom.record.given import Given
from pytest_xcom.sizes import PRESETS, parse_size
from pytest_xcom.version import __version__

if TYPE_CHECKING:
    from pytest_xcom.harness import XComHarness
    from pytest_xcom.isolation.azure import XComAzure
    from pytest_xcom.isolation.db import XComDB
    from pytest_xcom.isolation.gcs import XComGCS
    from pytest_xcom.isolation.s3 import XComS3
    from pytest_xcom.snapshots.assertion import XComSnapshot


# Fixture types, imported on first use: they pull in pytest and the isolation layer.
_LAZY = {
    "XComHarness": "pytest_xcom.harness",
    "XComSnapshot": "pytest_xcom.snapshots.assertion",
    "XComS3": "pytest_xcom.isolation.s3",
    "XComGCS": "pytest_xcom.isolation.gcs",
    "XComAzure": "pytest_xcom.isolation.azure",
    "XComDB": "pytest_xcom.isolation.db",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_xcom' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "PRESETS",
    "BackendError",
    "DagFileError",
    "DagRunError",
    "DatabaseServerError",
    "Expansion",
    "Given",
    "IsolationError",
    "NoRunError",
    "PolicyError",
    "RecordingError",
    "Pushes",
    "SizeError",
    "SnapshotError",
    "XComAzure",
    "XComDB",
    "XComDelete",
    "XComError",
    "XComGCS",
    "XComHarness",
    "XComLookupError",
    "XComLoop",
    "XComPull",
    "XComPush",
    "XComRun",
    "XComS3",
    "XComSnapshot",
    "XComTypeError",
    "XComValueError",
    "__version__",
    "parse_size",
]
