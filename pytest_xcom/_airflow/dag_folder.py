"""A folder of DAG files as Airflow's DAG processor sees it: which files it parses, how long an
import may take, how it reports an import error, and what it checks when it bags a file's DAGs.

Whole-repository mode (``--xcom-dags``) asks these questions of Airflow itself, so a file is a DAG
file, an import error or a duplicate DAG id here exactly when it is one for Airflow.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import os
import signal
import sys
import threading
import traceback
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from pytest_xcom._airflow.dags import dag_class, dag_context
from pytest_xcom._airflow.versions import is_airflow2


def _conf() -> Any:
    from airflow.configuration import conf

    return conf


def safe_mode() -> bool:
    """``[core] dag_discovery_safe_mode``: only files mentioning "airflow" and "dag" (or "asset") are parsed."""
    return bool(_conf().getboolean("core", "dag_discovery_safe_mode", fallback=True))


def ignore_file_syntax() -> str:
    """``[core] dag_ignore_file_syntax``: how ``.airflowignore`` patterns read, ``glob`` (default) or ``regexp``."""
    return str(_conf().get("core", "dag_ignore_file_syntax", fallback="glob"))


def list_dag_files(path: str) -> list[str]:
    """The files Airflow's DAG processor parses under ``path`` (a folder, or one file), sorted.

    Airflow's own listing: ``.airflowignore`` files in either syntax, the safe-mode heuristic (or
    ``[core] might_contain_dag_callable``), ``.py`` files and zip archives. Sorted by path parts,
    the order pytest collects a folder in, so every process lists the same files in the same order.
    """
    return sorted(_listed(path), key=lambda p: Path(p).parts)


def _listed(path: str) -> Iterator[str]:
    """Airflow's ``find_dag_file_paths``, with ``[core] dag_ignore_file_syntax`` read now: before
    3.4, ``find_path_from_directory`` reads it once, at import, as a default argument."""
    try:  # Airflow 3.4 moved discovery to _shared (and compares suffixes case-blind)
        from airflow._shared.module_loading.file_discovery import find_path_from_directory

        def is_python(candidate: Path) -> bool:
            return candidate.suffix.lower() == ".py"
    except ImportError:  # Airflow 2.x to 3.3
        from airflow.utils.file import find_path_from_directory  # type: ignore[no-redef]

        def is_python(candidate: Path) -> bool:
            return candidate.suffix == ".py"

    if os.path.isfile(path):
        yield path
        return
    for file_path in find_path_from_directory(path, ".airflowignore", ignore_file_syntax()):
        candidate = Path(file_path)
        try:
            listed = candidate.is_file() and (is_python(candidate) or zipfile.is_zipfile(candidate))
            listed = listed and might_contain_dag(file_path)
        except Exception:  # as Airflow's find_dag_file_paths: a file it cannot examine is logged and skipped
            logging.getLogger(__name__).exception("Error while examining %s", file_path)
            continue
        if listed:
            yield str(file_path)


def might_contain_dag(file_path: str, zip_file: zipfile.ZipFile | None = None) -> bool:
    """Airflow's safe-mode check of one file (or of one member of ``zip_file``)."""
    try:  # Airflow 3.4 moved it to _shared, where it takes the configuration
        from airflow._shared.module_loading.dag_file import (  # type: ignore[attr-defined]
            might_contain_dag as shared_check,
        )
    except ImportError:
        from airflow.utils.file import might_contain_dag as check  # Airflow 2.x to 3.3

        return bool(check(file_path, safe_mode(), zip_file))
    return bool(shared_check(file_path, safe_mode(), zip_file, conf=_conf()))


def import_timeout_seconds(path: str) -> float:
    """``[core] dagbag_import_timeout`` for this file (a cluster policy may set it per file)."""
    from airflow import settings

    seconds = settings.get_dagbag_import_timeout(path)
    if not isinstance(seconds, (int, float)):
        raise TypeError(f"Value ({seconds}) from get_dagbag_import_timeout must be int or float")
    return float(seconds)


def _timeout_error(message: str) -> BaseException:
    if is_airflow2():
        from airflow.exceptions import AirflowTaskTimeout as Airflow2Timeout

        return Airflow2Timeout(message)  # type: ignore[no-any-return]
    try:
        from airflow.sdk.exceptions import AirflowTaskTimeout
    except ImportError:  # Airflow 3.0: still in airflow.exceptions
        from airflow.exceptions import AirflowTaskTimeout  # type: ignore[no-redef]

    return AirflowTaskTimeout(message)


def _docs_url(page: str) -> str:
    try:
        from airflow.utils.docs import get_docs_url
    except ImportError:
        return page
    return str(get_docs_url(page))


@contextlib.contextmanager
def import_timeout(path: str) -> Iterator[float]:
    """Fail the import of ``path`` after ``dagbag_import_timeout`` seconds, as Airflow does.

    Airflow's DAG processor raises ``AirflowTaskTimeout`` from a SIGALRM timer in the importing
    process, with this message. Outside the main thread (no signals there) or with a timeout of 0
    the import runs unbounded, as in Airflow. Yields the timeout in seconds.
    """
    seconds = import_timeout_seconds(path)
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield seconds
        return
    message = (
        f"DagBag import timeout for {path} after {seconds}s.\n"
        "Please take a look at these docs to improve your DAG import time:\n"
        f"* {_docs_url('best-practices.html#top-level-python-code')}\n"
        f"* {_docs_url('best-practices.html#reducing-dag-complexity')}, PID: {os.getpid()}"
    )

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _timeout_error(message)

    before = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield seconds
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def import_error_text(exc: BaseException) -> str:
    """An import error as Airflow records it (``DagBag.import_errors``, the UI's "Import errors").

    The last ``[core] dagbag_import_error_traceback_depth`` frames and the exception when
    ``dagbag_import_error_tracebacks`` is on (the default), else the exception's message alone.
    """
    conf = _conf()
    if conf.getboolean("core", "dagbag_import_error_tracebacks", fallback=True):
        depth = conf.getint("core", "dagbag_import_error_traceback_depth", fallback=2)
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-depth))
    return str(exc)


def import_dag_zip(path: str) -> tuple[list[ModuleType], list[Any], list[tuple[str, BaseException]]]:
    """Import the DAG modules at the root of the zip archive ``path`` as Airflow's DAG processor does.

    Each ``.py`` member at the archive's root that passes the safe-mode check is imported by its
    plain name (the archive must be first on ``sys.path``: the caller puts it there). A member
    that fails is an import error of its own (``<archive>/<member>``); the others still load.
    Returns the modules, their DAGs, and the failed members with their exceptions.
    """
    DagContext = dag_context()
    DAG = dag_class()
    modules: list[ModuleType] = []
    errors: list[tuple[str, BaseException]] = []
    found: list[Any] = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            member = Path(info.filename)
            if member.suffix not in (".py", ".pyc") or len(member.parts) > 1:
                continue
            if not might_contain_dag(info.filename, archive):
                continue
            name = member.stem
            sys.modules.pop(name, None)
            DagContext.autoregistered_dags.clear()
            DagContext.current_autoregister_module_name = name
            try:
                module = importlib.import_module(name)
            except Exception as exc:  # Airflow's zip import catches Exception, not BaseException
                errors.append((os.path.join(path, info.filename), exc))
                continue
            finally:
                DagContext.current_autoregister_module_name = None
            modules.append(module)
            dags = [obj for obj in module.__dict__.values() if isinstance(obj, DAG)]
            dags += [dag for dag, _mod in DagContext.autoregistered_dags if dag not in dags]
            DagContext.autoregistered_dags.clear()
            for dag in dags:
                dag.fileloc = module.__file__
            found += dags
    return modules, found, errors


def _dagbag_class() -> type[Any]:
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow >= 3.2
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]  # Airflow 2.x to 3.1
    return DagBag


def _cluster_policy_skip() -> type[BaseException]:
    from airflow.exceptions import AirflowClusterPolicySkipDag

    return AirflowClusterPolicySkipDag


class DagBagChecks:
    """What Airflow's DagBag checks when it bags a file's DAGs, across every file of a session.

    ``dag.validate()``, then ``DagBag.bag_dag``: cycles, cluster policies, and a DAG id another
    file already defines (``AirflowDagDuplicatedIdException``, reported on the later file). A
    failure reads as Airflow records it: ``"<ExceptionClass>: <message>"``.
    """

    def __init__(self, dag_folder: str) -> None:
        DagBag = _dagbag_class()
        kwargs: dict[str, Any] = {"dag_folder": dag_folder, "collect_dags": False}
        if "include_examples" in inspect.signature(DagBag).parameters:
            kwargs["include_examples"] = False
        self._bag = DagBag(**kwargs)
        # Airflow 2 bags a DAG with its root DAG (SubDAGs); Airflow 3 has none
        self._root_dag = "root_dag" in inspect.signature(self._bag.bag_dag).parameters

    def bag(self, dags: list[Any]) -> tuple[list[Any], list[str]]:
        """The DAGs Airflow keeps of one file's, and the errors of those it refuses."""
        skip = _cluster_policy_skip()
        kept: list[Any] = []
        errors: list[str] = []
        for dag in dags:
            try:
                dag.validate()
                if self._root_dag:
                    self._bag.bag_dag(dag, root_dag=dag)
                else:
                    self._bag.bag_dag(dag)
            except skip:
                continue  # a cluster policy skips it: Airflow keeps no trace of it
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            kept.append(dag)
        return kept, errors
