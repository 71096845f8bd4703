"""Which modules a DAG run imports: learned in a throwaway fork, then imported by the warm process.

``dag.test()`` and the harness import much of what they use lazily (the task runner's pieces, the
execution API's routes and models, serializers). Running a small DAG of our own in a fork of the
warm process shows which; the warm process imports them by name, so every run inherits them. The
fork also builds the schema template when no session has yet (it stays in the cache), and its DB
connections, threads and event loop end with it: the warm process never holds any.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from types import ModuleType

from pytest_xcom.isolation.env import IsolatedAirflow


def learned_in_a_fork(iso: IsolatedAirflow) -> list[str]:
    """The names of the modules an example harness run imported (of installed distributions only)."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 1
        try:
            _silence_output()
            names = _run_example(iso)
            with os.fdopen(write_end, "w") as out:
                json.dump(names, out)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as incoming:
        text = incoming.read()
    os.waitpid(pid, 0)
    try:
        names = json.loads(text) if text else []
    except json.JSONDecodeError:
        return []  # the example failed: the runs import lazily, as cold processes do
    return [name for name in names if isinstance(name, str)]


def _run_example(iso: IsolatedAirflow) -> list[str]:
    """In the fork: one harness run of the example DAG; the modules it imported."""
    before = set(sys.modules)
    from pytest_xcom._airflow.warm_dag import example_dag
    from pytest_xcom.harness import XComHarness
    from pytest_xcom.isolation.db import MetadataDB
    from pytest_xcom.isolation.gcs import GCSEmulator
    from pytest_xcom.isolation.s3 import MotoServer
    from pytest_xcom.isolation.services import MockedServices

    db = MetadataDB(iso)
    with contextlib.ExitStack() as stack:
        services = stack.enter_context(MockedServices(moto=MotoServer(), home=iso.root, gcs=GCSEmulator()).active())
        harness = XComHarness(dags_folder=iso.dags_folder, services=services)
        stack.callback(harness.close)
        stack.callback(db.close)
        db.reset()
        harness.run(example_dag())
    return sorted(name for name in set(sys.modules) - before if _installed(sys.modules.get(name)))


def _installed(module: ModuleType | None) -> bool:
    """A module of the standard library or of an installed distribution: never one of the project."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return False
    here = os.path.realpath(os.getcwd())
    real = os.path.realpath(path)
    return "site-packages" in real or not real.startswith(here + os.sep)


def _silence_output() -> None:
    """The example run's output (Airflow's logs write to the inherited descriptors) is nobody's news."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
