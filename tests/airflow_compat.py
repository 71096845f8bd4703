"""The DAG-authoring names of the installed Airflow, for this suite's DAGs and pytester snippets.

Airflow 3 has them in ``airflow.sdk``; Airflow 2.10 / 2.11 in ``airflow.decorators`` and
``airflow.models``. Users write whichever their Airflow has; the suite runs on both.
"""

from __future__ import annotations

from importlib import metadata

import pytest
from packaging.version import Version

AIRFLOW_VERSION = Version(Version(metadata.version("apache-airflow")).base_version)
AIRFLOW2 = AIRFLOW_VERSION.major < 3
TASK_LOOPS = AIRFLOW_VERSION >= Version("3.4")  # @task_group(...).loop(...), per-attempt XComs

if AIRFLOW2:
    from airflow.decorators import dag, task, task_group
    from airflow.models import DAG, BaseOperator
    from airflow.models.xcom import BaseXCom
    from airflow.models.xcom import BaseXCom as XComModel  # the ORM model of the xcom table
else:
    from airflow.models.xcom import XComModel
    from airflow.sdk import DAG, BaseOperator, dag, task, task_group
    from airflow.sdk.bases.xcom import BaseXCom

__all__ = ["AIRFLOW2", "TASK_LOOPS", "requires_task_loops", "DAG", "BaseOperator", "BaseXCom", "XComModel", "dag", "requires_airflow3", "task", "task_group", "xcom_holders"]


def requires_airflow3(reason: str) -> pytest.MarkDecorator:
    """Skip on Airflow 2.10 / 2.11, saying exactly what Airflow 2 lacks for this test.

    Here, not in conftest.py: tests/ and tests/fidelity/ both have a ``conftest`` module, and in a
    whole-suite run ``from conftest import`` finds whichever was imported first.
    """
    return pytest.mark.skipif(AIRFLOW2, reason=f"not on Airflow 2: {reason}")


def requires_task_loops() -> pytest.MarkDecorator:
    """Skip before Airflow 3.4, which brought task loops and per-attempt XComs."""
    return pytest.mark.skipif(not TASK_LOOPS, reason=f"task loops need Airflow 3.4 (this is {AIRFLOW_VERSION})")


def xcom_holders():
    """(task_runner, xcom_module): the modules whose ``XCom`` is the class task code uses."""
    if AIRFLOW2:
        from airflow.models import taskinstance, xcom

        return taskinstance, xcom
    from airflow.sdk.execution_time import task_runner, xcom

    return task_runner, xcom
