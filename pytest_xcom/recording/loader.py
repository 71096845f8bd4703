"""Loading DAG objects from DAG files, with errors that say what went wrong and where."""

from __future__ import annotations

import hashlib
import sys
import traceback
from pathlib import Path
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.errors import DagFileError


def load_dag(path: str | Path, dag_id: str | None = None) -> tuple[Any, list[str]]:
    """Import ``path`` and return (the DAG, the sys.path entries added for it)."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        where = "is a directory, not a file" if file.is_dir() else "does not exist"
        raise DagFileError(f"DAG file {str(path)!r} {where} (resolved to {file})")
    module_name = "pytest_xcom_dagfile_" + hashlib.sha1(str(file).encode()).hexdigest()[:12]
    added: list[str] = []
    # DAG files import their neighbours, as they would from the root of a DAG bundle.
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
        added.append(str(file.parent))
    try:
        _module, dags = _airflow.import_dag_file(str(file), module_name)
    except Exception as exc:
        for entry in added:
            sys.path.remove(entry)
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3))
        raise DagFileError(f"could not import DAG file {str(path)!r}: {type(exc).__name__}: {exc}\n{tb}") from exc
    return _pick(dags, dag_id, path), added


def _pick(dags: list[Any], dag_id: str | None, path: str | Path) -> Any:
    ids = sorted(dag.dag_id for dag in dags)
    if not dags:
        raise DagFileError(
            f"DAG file {str(path)!r} defines no DAG: no DAG object at module level and no @dag "
            "function called at module level"
        )
    if dag_id is None:
        if len(dags) > 1:
            raise DagFileError(
                f"DAG file {str(path)!r} defines {len(dags)} DAGs ({', '.join(ids)}); pass dag_id= to choose one"
            )
        return dags[0]
    for dag in dags:
        if dag.dag_id == dag_id:
            return dag
    raise DagFileError(f"DAG file {str(path)!r} has no DAG {dag_id!r}; it defines: {', '.join(ids)}")
