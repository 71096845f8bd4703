"""The ``dags`` section's baseline: a plain script that imports every DAG file of a folder and calls
``dag.test()`` on each DAG, one process, no pytest (the fastest a user could check them by hand).

    python bench/plain_dags.py FOLDER

Fair to the baseline: it gets the same ready metadata DB as the harness (a copy of the cached
migrated template, throwaway AIRFLOW_HOME), and each DAG is registered the way the harness
registers it, so ``dag.test()`` does not parse the whole folder before every run as Airflow 3.1+
would with ``[core] dags_folder`` pointing at it. ``dag.test()`` itself is called as a user calls
it (none of the harness's start-up levers). Exits 1 if a DAG run does not succeed.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

from pytest_xcom.isolation import env


def main(folder: Path) -> int:
    iso = env.isolate()  # before Airflow is imported: a throwaway home, the cached template DB
    from pytest_xcom import _airflow
    from pytest_xcom.isolation.db import MetadataDB
    from pytest_xcom.recording import runner

    db = MetadataDB(iso)
    db.prepare()
    db.reset()  # a fresh copy of the migrated template: the whole folder runs on it
    DAG = _airflow.dag_class()
    failed = []
    try:
        for index, path in enumerate(sorted(folder.glob("*.py"))):
            spec = importlib.util.spec_from_file_location(f"plain_dag_{index}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            for dag in {id(o): o for o in vars(module).values() if isinstance(o, DAG)}.values():
                date = runner.DEFAULT_LOGICAL_DATE
                pinned = {"run_after": date} if "run_after" in inspect.signature(dag.test).parameters else {}
                with _airflow.dag_registered_for_test(dag, str(iso.dags_folder)):
                    run = dag.test(logical_date=date, **pinned)  # as a user calls it
                if _airflow.dag_run_state(run) != "success":
                    failed.append(dag.dag_id)
    finally:
        db.close()
        env.release(iso)
    if failed:
        print(f"plain dag.test() runs that did not succeed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
