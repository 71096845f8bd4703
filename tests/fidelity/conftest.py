"""Fixtures of the differential fidelity suite: plain-side runs cached per session, DAG paths.

The plain runs (one subprocess per XCom backend configuration, see differential.GROUPS) start
right after collection, for the groups the selected tests need, so they run while the harness
side warms up and runs; each test then waits only for its own group's result. Under xdist the
workers share one run per group (see differential.PlainRuns).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import differential
import pytest

_PLAIN_RUNS = pytest.StashKey[differential.PlainRuns]()


def _shared_root(config: pytest.Config) -> Path:
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:  # pragma: no cover - pytest without its tmp_path plugin
        raise RuntimeError("the fidelity suite needs pytest's tmp_path_factory")
    base = factory.getbasetemp()
    # xdist workers get <session basetemp>/popen-gwN: the parent is shared by the whole session.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / "fidelity-plain"


def _plain_runs(config: pytest.Config) -> differential.PlainRuns:
    if _PLAIN_RUNS not in config.stash:
        config.stash[_PLAIN_RUNS] = differential.PlainRuns(_shared_root(config))
    return config.stash[_PLAIN_RUNS]


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    needed = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec else None
        if isinstance(case, differential.Case) and case.available and case.group not in needed:
            needed.append(case.group)
    if needed:
        _plain_runs(session.config).launch(needed)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    runs = session.config.stash.get(_PLAIN_RUNS, None)
    if runs is not None:
        runs.close(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)


@pytest.fixture(scope="session")
def plain_runs(pytestconfig: pytest.Config) -> differential.PlainRuns:
    return _plain_runs(pytestconfig)


@pytest.fixture(scope="session", autouse=True)
def _fidelity_dags_importable():
    """tests/fidelity/dags on sys.path for the harness side, as PYTHONPATH has it on the plain side."""
    entry = str(differential.FIDELITY_DAGS)
    sys.path.insert(0, entry)
    yield
    if entry in sys.path:
        sys.path.remove(entry)
