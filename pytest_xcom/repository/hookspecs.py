"""The hook of whole-repository mode, registered by pytest-xcom's plugin (``pytest_addhooks``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_xcom_dag_run(dag: Any, path: Path) -> dict[str, Any] | None:
    """How ``--xcom-dags`` runs ``dag``, a DAG of the DAG file ``path``; called at collection.

    Return ``xcom.run()``'s keyword arguments (``conf``, ``logical_date``, ``backend``,
    ``backend_options``, ``freeze_time``, ``tasks``, ``upstream``), plus ``expect`` (the run
    state to expect: ``"success"``, the default, or ``"failed"``) and ``marks`` (pytest marks for
    the DAG's item, e.g. ``[pytest.mark.xfail(reason=...)]``); ``{}`` for the defaults. Return
    ``None`` to check the DAG's import only (a DAG that needs systems CI cannot reach). Without
    any implementation of this hook every DAG runs with the defaults.

    Implement it in a ``conftest.py`` at the rootdir, or in a folder above the DAG files.
    """
