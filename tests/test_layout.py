"""The package's shape: the public surface, the error family, no import cycles, no Airflow on import."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_xcom
from pytest_xcom.harness import XComHarness
from pytest_xcom.record.run import XComRun

from airflow_compat import requires_airflow3

PACKAGE = Path(pytest_xcom.__file__).parent

# XComRun members that are not about the run's traffic: the harness has its own meaning for
# ``backend`` (the test's default) and moving runs between processes is the plugin's business.
NOT_ON_HARNESS = {"backend", "to_dict", "from_dict"}


def _public_members(cls: type) -> dict[str, object]:
    members: dict[str, object] = {name: obj for name, obj in vars(cls).items() if not name.startswith("_")}
    members.update({f.name: f for f in dataclasses.fields(cls)})  # a field's default is no method
    return {name: obj for name, obj in members.items() if name not in NOT_ON_HARNESS}


def test_every_query_and_assertion_of_a_run_is_on_the_harness_with_the_same_signature():
    for name, member in _public_members(XComRun).items():
        assert hasattr(XComHarness, name), f"xcom.{name} is missing: XComRun.{name} has no twin on XComHarness"
        harness_side = getattr(XComHarness, name)
        if isinstance(member, (property, dataclasses.Field)):
            assert isinstance(harness_side, property), f"xcom.{name} should be a property"
        else:
            assert inspect.signature(harness_side) == inspect.signature(getattr(XComRun, name)), name


def test_the_harness_forwards_to_the_last_run_and_refuses_before_one():
    harness = XComHarness.__new__(XComHarness)
    harness.runs = []
    with pytest.raises(pytest_xcom.NoRunError, match=r"no DAG run yet in this test: call xcom.run\(dag\)"):
        harness.pushed_by("extract")
    with pytest.raises(pytest_xcom.XComError):
        _ = harness.task_states
    run = XComRun(
        dag_id="d", run_id="r", logical_date=None, state="success", task_states={"t": "success"},
        failures={}, pushes=[], pulls=[], deletes=[], task_ids=("t",),
    )
    harness.runs = [run]
    assert harness.succeeded is True and harness.task_ids == ("t",)
    assert harness.pushed_by("t").keys == set()


ERRORS = ["XComError", "DagFileError", "DagRunError", "BackendError", "NoRunError", "SnapshotError",
          "XComLookupError", "SizeError", "PolicyError", "IsolationError", "DatabaseServerError"]


@pytest.mark.parametrize("name", ERRORS)
def test_every_error_is_importable_from_the_package_and_one_family(name):
    error = getattr(pytest_xcom, name)
    assert issubclass(error, pytest_xcom.XComError)


def test_errors_keep_the_builtin_they_were():
    assert issubclass(pytest_xcom.BackendError, ValueError)
    assert issubclass(pytest_xcom.DagRunError, RuntimeError)
    assert issubclass(pytest_xcom.NoRunError, RuntimeError)
    assert issubclass(pytest_xcom.XComLookupError, LookupError)
    assert issubclass(pytest_xcom.SizeError, ValueError)


def test_types_for_annotations_are_exported():
    from pytest_xcom import XComDB, XComHarness, XComRun, XComS3, XComSnapshot  # noqa: F401

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = pytest_xcom.Nope


def test_importing_the_package_or_the_plugin_imports_no_airflow():
    code = (
        "import sys, pytest_xcom, pytest_xcom.plugin, pytest_xcom.contract; "
        "loaded = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')); "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path, package_modules: set[str]) -> set[str]:
    """Every pytest_xcom module ``path`` imports, anywhere in the file (functions included),
    except under ``if TYPE_CHECKING:`` (annotations only, never executed)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    me = _module_name(path)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name in package_modules and name != me:
                found.add(name)
    return found


def test_the_package_has_no_import_cycles():
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(path) for path in files}
    graph = {_module_name(path): _runtime_imports(path, modules) for path in files}
    # A package's __init__ re-exporting its own submodules is not a cycle of logic.
    for name, imports in graph.items():
        graph[name] = {i for i in imports if not (i.startswith(name + ".") and PACKAGE.joinpath(
            *name.split(".")[1:], "__init__.py").exists())}

    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, set())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long


def test_only_the_airflow_adapter_imports_airflow_or_checks_its_version():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "_airflow" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if (module or "").split(".")[0] == "airflow" or any(n.split(".")[0] == "airflow" for n in names):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, "Airflow imported outside pytest_xcom/_airflow: " + ", ".join(offenders)


@requires_airflow3("the README's example is written with Airflow 3's airflow.sdk imports")
def test_the_readme_example_runs_as_written(pytester: pytest.Pytester):
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("A complete test file", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_orders=example)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
