"""pytest-xcom: test the XCom traffic of Apache Airflow DAGs.

Importing this package never imports Airflow.
"""

from pytest_xcom.record import Expansion, Pushes, XComDelete, XComLookupError, XComPull, XComPush, XComRun
from pytest_xcom.sizes import PRESETS, SizeError, parse_size

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "Expansion",
    "Pushes",
    "SizeError",
    "XComDelete",
    "XComLookupError",
    "XComPull",
    "XComPush",
    "XComRun",
    "__version__",
    "parse_size",
]
