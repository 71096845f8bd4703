"""The pytest nodes of whole-repository mode: a collector per DAG file, and its items.

``dags/etl.py`` (a :class:`DagFile`) collects ``dags/etl.py::import`` (a :class:`DagImportItem`:
the file imports as Airflow would import it) and, per DAG it defines, ``dags/etl.py::<dag_id>``
(a :class:`DagRunItem`: the DAG runs through the ``xcom`` fixture, ends in the expected state and
matches its snapshot). The run items are ``pytest.Function`` items, so fixtures (``xcom`` and the
user's autouse ones), marks, ``-k``, ``--lf``, xdist and JUnit treat them as any test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_xcom.errors import XComError
from pytest_xcom.harness import XComHarness
from pytest_xcom.repository.loading import Collection, DagFileResult, DagRepository
from pytest_xcom.repository.settings import HOOK, DagRunSettings, settings_from
from pytest_xcom.repository.snapshots import DagSnapshots
from pytest_xcom.snapshots.assertion import PLUGIN_NAME, SNAPSHOT, XComSnapshot

REPOSITORY = pytest.StashKey[DagRepository]()
SNAPSHOTS = pytest.StashKey[DagSnapshots]()
COLLECTION = pytest.StashKey[Collection]()


class DagImportFailed(Exception):
    """The DAG file's import errors, as Airflow reports them."""


class DagFile(pytest.File):
    """A file Airflow's DAG processor would parse: its import item, then one item per DAG."""

    def collect(self) -> Iterator[pytest.Item]:
        result = self.config.stash[REPOSITORY].result(self.path)
        snapshots = self.config.stash[SNAPSHOTS]
        collection = self.config.stash[COLLECTION]
        collection.files[Path(self.path).resolve()] = result
        item = DagImportItem.from_parent(self, name="import", result=result)
        item.user_properties += [("dag_ids", " ".join(result.dag_ids)), ("import_seconds", f"{result.seconds:.3f}")]
        yield item
        hook = self.ihook.pytest_xcom_dag_run
        for dag in result.dags:
            settings: DagRunSettings | None = DagRunSettings()
            problem: BaseException | None = None
            if hook.get_hookimpls():  # no hook at all: every DAG runs with xcom.run()'s defaults
                try:
                    settings = settings_from(hook(dag=dag, path=Path(self.path)), dag.dag_id, self.nodeid)
                except Exception as exc:  # the hook's own error, or its value's: this DAG's item fails
                    settings, problem = DagRunSettings(), exc
            if settings is None:
                collection.import_only.append(f"{self.nodeid}::{dag.dag_id}")
                continue
            yield DagRunItem.from_parent(
                self,
                name=dag.dag_id,
                callobj=_check_function(settings.marks),
                dag=dag,
                result=result,
                settings=settings,
                problem=problem,
                snapshot_path=snapshots.path_of(self.path, dag.dag_id),
            )


def _check_function(marks: tuple[pytest.Mark, ...]) -> Callable[..., None]:
    """The test function of one DAG's item; its marks are the item's own (usefixtures included)."""

    def check_dag(xcom: XComHarness, request: pytest.FixtureRequest) -> None:
        request.node.check(xcom)

    check_dag.pytestmark = list(marks)  # type: ignore[attr-defined]
    return check_dag


class DagImportItem(pytest.Item):
    """``<file>::import``: the file imports without an error Airflow would report."""

    def __init__(self, *, result: DagFileResult, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result = result

    def runtest(self) -> None:
        errors = self.result.errors
        if errors:
            summaries = "\n".join(problem.summary for problem in errors)
            raise DagImportFailed(summaries + "\n\n" + "\n\n".join(problem.report for problem in errors))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, DagImportFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        # the failure's heading; never a suffix of the node id, which pytest would rewrite ("." -> "::")
        return Path(self.path), 0, f"import of {Path(self.path).name}"


class DagRunItem(pytest.Function):
    """``<file>::<dag_id>``: the DAG run through the harness, its state, its policy, its snapshot."""

    def __init__(
        self,
        *,
        dag: Any,
        result: DagFileResult,
        settings: DagRunSettings,
        problem: BaseException | None,
        snapshot_path: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dag = dag
        self.result = result
        self.settings = settings
        self.problem = problem
        plugin = self.config.pluginmanager.getplugin(PLUGIN_NAME)
        self.stash[SNAPSHOT] = XComSnapshot(
            snapshot_path, update=plugin.update, display=plugin.display(snapshot_path)
        )

    def check(self, xcom: XComHarness) -> None:
        """Run the DAG as the hook says, expect its state, compare its manifest with the snapshot."""
        __tracebackhide__ = True
        if self.problem is not None and not isinstance(self.problem, XComError):
            raise self.problem  # the hook itself failed: its traceback says where
        failure = self._failure(xcom)
        if failure is not None:
            pytest.fail(failure, pytrace=False)  # outside any except block: no chained exception shown

    def _failure(self, xcom: XComHarness) -> str | None:
        if self.problem is not None:
            return str(self.problem)
        xcom._use_imported_file(self.result.imported)
        dag_id = self.dag.dag_id
        try:
            run = xcom.run(self.dag, **self.settings.run_kwargs)
        except XComError as exc:
            hooked = f" with the keyword arguments {HOOK} returned" if self.settings.run_kwargs else ""
            return f"xcom.run() of DAG {dag_id!r}{hooked} failed: {type(exc).__name__}: {exc}"
        if run.state != self.settings.expect:
            if self.settings.expect == "success":
                try:
                    run.assert_succeeded()
                except AssertionError as exc:
                    return str(exc)
            return f"DAG {dag_id!r} ended {run.state!r}; {HOOK} expects {self.settings.expect!r}"
        try:
            self.stash[SNAPSHOT].assert_match(run)
        except AssertionError as exc:
            return str(exc)
        return None

    def reportinfo(self) -> tuple[Path, int, str]:
        return Path(self.path), 0, f"DAG {self.name} of {Path(self.path).name}"
