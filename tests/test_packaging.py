"""The wheel holds the whole package: every module and data file of the source tree (issue #27).

Every other check installs pytest-xcom editable, which reads the source tree; only a built wheel shows
a template, stylesheet or subpackage that ``[tool.setuptools]`` leaves out. The test builds the wheel
without build isolation (the suite never reaches the network), so it needs ``build`` and a setuptools
recent enough for the project's metadata: ``pip install -e ".[release]"``. ``.ci/wheel_check.sh`` runs
the same check on the wheel it builds in isolation (``python tests/test_packaging.py WHEEL``).
"""

from __future__ import annotations

import email.parser
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pytest_xcom"
SKIPPED = {"__pycache__"}


def source_files() -> set[str]:
    """Every file of the package in the source tree, as a wheel names it (modules and data alike)."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and not SKIPPED & set(path.parts) and path.suffix != ".pyc"
    }


def missing_from(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    return sorted(source_files() - names)


def metadata_of(wheel: Path) -> tuple[email.message.Message, str]:
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        entry_points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        return email.parser.Parser().parsestr(archive.read(info).decode()), archive.read(entry_points).decode()


def _build_wheel(out: Path) -> Path:
    missing = [name for name in ("build", "setuptools", "wheel") if importlib.util.find_spec(name) is None]
    if missing:
        import pytest

        pytest.skip(f"building the wheel needs {', '.join(missing)}: pip install -e '.[release]'")
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 77:
        import pytest

        pytest.skip(f"setuptools {setuptools.__version__} cannot build the SPDX license metadata (77+): "
                    "pip install -e '.[release]'")
    # from a copy: setuptools would write build/ and *.egg-info into the source tree, and reuse a
    # stale build/lib there (a deleted module would stay in the wheel)
    source = out / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("pytest_xcom-*.whl")
    return wheel


def test_the_wheel_holds_every_module_and_data_file(tmp_path):
    wheel = _build_wheel(tmp_path)
    files = source_files()
    # the data files the report and the type checkers need are among them (a glob that finds nothing
    # would otherwise pass this test)
    for data in ("py.typed", "reporting/report.css", "reporting/templates/report.html.j2"):
        assert f"pytest_xcom/{data}" in files
    assert missing_from(wheel) == [], f"{wheel.name} lacks source files: fix [tool.setuptools.package-data]"

    metadata, entry_points = metadata_of(wheel)
    version = {}
    exec((PACKAGE / "version.py").read_text(), version)
    assert metadata["Version"] == version["__version__"]
    classifiers = metadata.get_all("Classifier")
    for python in ("3.10", "3.11", "3.12"):
        assert f"Programming Language :: Python :: {python}" in classifiers
    assert {"Framework :: Pytest", "Framework :: Apache Airflow"} <= set(classifiers)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "[pytest11]\nxcom = pytest_xcom.plugin" in entry_points
    assert "pytest-xcom = pytest_xcom.cli:main" in entry_points


if __name__ == "__main__":  # .ci/wheel_check.sh: python tests/test_packaging.py dist/pytest_xcom-*.whl
    lacking = missing_from(Path(sys.argv[1]))
    if lacking:
        sys.exit(f"{sys.argv[1]} lacks source files (fix [tool.setuptools.package-data]): {', '.join(lacking)}")
    print(f"{Path(sys.argv[1]).name}: every module and data file of pytest_xcom/ is in the wheel")
