"""The record of a DAG run's XCom traffic and the queries over it. Pure Python: no Airflow."""

from pytest_xcom.record.events import RETURN_KEY, XComDelete, XComPull, XComPush, instance_label
from pytest_xcom.record.run import Expansion, Pushes, XComRun

__all__ = [
    "RETURN_KEY",
    "Expansion",
    "Pushes",
    "XComDelete",
    "XComPull",
    "XComPush",
    "XComRun",
    "instance_label",
]
