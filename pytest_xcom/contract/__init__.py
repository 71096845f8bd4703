"""The backend contract: the standard checks of an XCom backend, as tests to inherit.

::

    from pytest_xcom.contract import XComBackendContract

    class TestMyBackend(XComBackendContract):
        backend = "my_project.xcom_backend.ExclusiveRedisXCom"
"""

from pytest_xcom.contract.checks import XComBackendContract

__all__ = ["XComBackendContract"]
