"""DAG objects: importing DAG files as Airflow does, DAG structure, Airflow's own frames."""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from pytest_xcom._airflow import af2
from pytest_xcom._airflow.versions import is_airflow2


def dag_class() -> type[Any]:
    if is_airflow2():
        return af2.dag_class()
    from airflow.sdk import DAG

    return DAG


def import_dag_file(path: str, module_name: str) -> tuple[ModuleType, list[Any]]:
    """Import a DAG file as Airflow's DAG processor does; return the module and its DAGs.

    DAGs bound to module globals and DAGs made by ``@dag`` functions called at module level
    (which Airflow auto-registers) are both found.
    """
    DagContext = dag_context()
    DAG = dag_class()
    loader = importlib.machinery.SourceFileLoader(module_name, path)
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    DagContext.autoregistered_dags.clear()
    DagContext.current_autoregister_module_name = module_name
    sys.modules[module_name] = module
    try:
        loader.exec_module(module)
        found: list[Any] = [obj for obj in module.__dict__.values() if isinstance(obj, DAG)]
        for dag, _mod in list(DagContext.autoregistered_dags):
            if dag not in found:
                found.append(dag)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        DagContext.current_autoregister_module_name = None
        DagContext.autoregistered_dags.clear()
    for found_dag in found:
        found_dag.fileloc = path
    return module, found


def dag_context() -> Any:
    if is_airflow2():
        return af2.dag_context()
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    return DagContext


def is_mapped(task: Any) -> bool:
    """A task is mapped when it is expanded itself or sits inside a mapped task group."""
    if is_mapped_operator(task):
        return True
    return task.get_closest_mapped_task_group() is not None


def is_mapped_operator(task: Any) -> bool:
    """A task expanded itself (``.expand()``); Airflow 2's MappedOperator has no ``is_mapped``."""
    if is_airflow2():
        from airflow.models.mappedoperator import MappedOperator  # type: ignore[import-not-found]

        return isinstance(task, MappedOperator)
    return bool(getattr(task, "is_mapped", False))


@functools.cache
def _airflow_dirs() -> tuple[str, ...]:
    import airflow

    return tuple(os.path.join(path, "") for path in airflow.__path__)


def is_airflow_frame(filename: str) -> bool:
    """Whether a traceback frame belongs to Airflow itself (task runner, operators, providers)."""
    return filename.startswith(_airflow_dirs())


def authoring() -> tuple[Any, Any]:
    """The ``@dag`` and ``@task`` decorators DAG authors use on this Airflow (the contract's DAGs)."""
    if is_airflow2():
        return af2.authoring()
    from airflow.sdk import dag, task

    return dag, task


SKIPMIXIN_KEY = "skipmixin_key"  # where SkipMixin operators record what they skipped


def _class_names(task: Any) -> set[str]:
    classes = [type(task)]
    operator_class = getattr(task, "operator_class", None)  # a mapped operator's real class
    if isinstance(operator_class, type):
        classes.append(operator_class)
    return {cls.__name__ for klass in classes for cls in klass.__mro__}


def airflow_pushed_xcoms(dag: Any) -> frozenset[tuple[str, str]]:
    """(task_id, key) of the XComs Airflow itself pushes for the DAG's tasks, beside the user's data.

    - SkipMixin operators (branches, short circuits) push ``skipmixin_key``;
    - a branch's return value is its decision (the task ids to follow), not data for a reader;
    - ``multiple_outputs`` pushes the whole dict as ``return_value`` beside one XCom per key;
    - a task loop's gate carries the ``LoopDecision`` reason (Airflow 3.4), which the server stores.
    """
    from pytest_xcom._airflow.loops import LOOP_DECISION_REASON_KEY, loop_shapes

    found: set[tuple[str, str]] = {
        (shape.gate_task_id, LOOP_DECISION_REASON_KEY) for shape in loop_shapes(dag).values() if shape.has_until
    }
    for task_id, task in dag.task_dict.items():
        names = _class_names(task)
        if "SkipMixin" in names:
            found.add((task_id, SKIPMIXIN_KEY))
        if "BranchMixIn" in names:
            found.add((task_id, "return_value"))
        partial_kwargs = getattr(task, "partial_kwargs", None) or {}
        if getattr(task, "multiple_outputs", False) or partial_kwargs.get("multiple_outputs"):
            found.add((task_id, "return_value"))
    return frozenset(found)
