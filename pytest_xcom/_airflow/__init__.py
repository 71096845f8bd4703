"""The Airflow adapter: everything that touches Airflow internals, and every version branch.

The rest of pytest-xcom calls Airflow only through the names exported here, so supporting another
release (or another major version, behind the same functions) means reading and changing this
package alone. Importing it never imports Airflow: each function imports what it needs.

- ``versions``: which Airflow is installed and what differs between releases
- ``db``: engines, schema, sessions, task instance rows
- ``dags``: importing DAG files, DAG structure
- ``dag_folder``: a folder of DAG files as the DAG processor sees it (listing, timeout, import errors)
- ``dag_test``: running a DAG object through ``dag.test()``
- ``api_server`` / ``asgi_bridge``: the process's one in-process execution API, and the bridge
  that serves it without the WSGI round trip (Airflow 3.3)
- ``xcom``: serde and the resolved XCom class
- ``comms`` / ``intercept``: the Task SDK channel and the one interception point
- ``storage``: the object-storage XCom backend
- ``clock``: the frozen wall clock for task code
- ``given``: partial runs (tasks marked success, XComs given by the test)
- ``loops``: task loops (Airflow 3.4): loop groups, iterations, the gate's decision
- ``task_logs``: Airflow's own log output of a run, taken task instance by task instance
"""

from pytest_xcom._airflow.api_server import bridges_execution_api
from pytest_xcom._airflow.clock import as_real_time, frozen_task_clock
from pytest_xcom._airflow.config import conf_vars, config_restored
from pytest_xcom._airflow.dag_folder import (
    DagBagChecks,
    import_dag_zip,
    import_error_text,
    import_timeout,
    list_dag_files,
)
from pytest_xcom._airflow.dag_test import dag_registered_for_test, resuming_existing_dag_run, run_dag_test
from pytest_xcom._airflow.dags import (
    airflow_pushed_xcoms,
    authoring,
    dag_class,
    import_dag_file,
    is_airflow_frame,
    is_mapped,
)
from pytest_xcom._airflow.db import (
    clear_task_instances,
    create_session,
    dag_run_state,
    dispose_engines,
    initdb,
    task_instances,
)
from pytest_xcom._airflow.given import (
    GivenRow,
    given_rows,
    given_xcoms_written,
    mark_success_pattern,
    unexpandable_mapped_tasks,
)
from pytest_xcom._airflow.intercept import NOT_SEEN, XComEventSink, intercepted
from pytest_xcom._airflow.loops import LOOP_DECISION_REASON_KEY, LoopShape, loop_shapes, region_iterations
from pytest_xcom._airflow.sink import Instance
from pytest_xcom._airflow.storage import (
    clear_object_storage_caches,
    compression_supported,
    object_storage_backend,
    object_storage_settings,
)
from pytest_xcom._airflow.task_logs import LogSink, airflow_log_taken
from pytest_xcom._airflow.versions import (
    airflow_version,
    collapses_single_group_expansion,
    default_xcom_backend_path,
    dependency_problems,
    hands_group_results_lazily,
    is_airflow2,
    keeps_xcoms_per_attempt,
    pushes_none,
    schema_fingerprint,
)
from pytest_xcom._airflow.xcom import (
    base_xcom_class,
    deserialize_payload,
    read_row,
    received_value,
    resolved_xcom_backend,
    serialize_payload,
    stored_row,
    stores_serde_payload,
)

__all__ = [
    "DagBagChecks",
    "GivenRow",
    "Instance",
    "LOOP_DECISION_REASON_KEY",
    "LogSink",
    "LoopShape",
    "NOT_SEEN",
    "XComEventSink",
    "airflow_log_taken",
    "airflow_pushed_xcoms",
    "as_real_time",
    "airflow_version",
    "authoring",
    "base_xcom_class",
    "bridges_execution_api",
    "clear_object_storage_caches",
    "clear_task_instances",
    "collapses_single_group_expansion",
    "compression_supported",
    "conf_vars",
    "config_restored",
    "create_session",
    "dag_class",
    "dag_registered_for_test",
    "dag_run_state",
    "default_xcom_backend_path",
    "dependency_problems",
    "deserialize_payload",
    "dispose_engines",
    "frozen_task_clock",
    "hands_group_results_lazily",
    "given_rows",
    "given_xcoms_written",
    "import_dag_file",
    "import_dag_zip",
    "import_error_text",
    "import_timeout",
    "initdb",
    "intercepted",
    "is_airflow2",
    "is_airflow_frame",
    "is_mapped",
    "keeps_xcoms_per_attempt",
    "list_dag_files",
    "loop_shapes",
    "mark_success_pattern",
    "object_storage_backend",
    "object_storage_settings",
    "pushes_none",
    "read_row",
    "received_value",
    "region_iterations",
    "resolved_xcom_backend",
    "resuming_existing_dag_run",
    "run_dag_test",
    "schema_fingerprint",
    "serialize_payload",
    "stored_row",
    "stores_serde_payload",
    "task_instances",
    "unexpandable_mapped_tasks",
]
