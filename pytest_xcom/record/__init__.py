"""The record of a DAG run's XCom traffic and the queries over it. Pure Python: no Airflow."""

from pytest_xcom.record.events import RETURN_KEY, TriggerXComs, XComDelete, XComPull, XComPush, instance_label
from pytest_xcom.record.run import XComRun
from pytest_xcom.record.views import Expansion, Pushes, XComLoop

__all__ = [
    "RETURN_KEY",
    "TriggerXComs",
    "Expansion",
    "Pushes",
    "XComDelete",
    "XComLoop",
    "XComPull",
    "XComPush",
    "XComRun",
    "instance_label",
]
