"""The virtualenv pytest-airflow-in-a-box runs in: created on first use, next to the repository.

It gets the same Airflow release as the virtualenv running the benchmark, so the session
comparison measures the plugins, not two Airflows; the repository's constraints file for that
release keeps pip's resolver from wandering.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

INABOX_REQUIREMENT = "pytest-airflow-in-a-box==0.13.1"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_PATH = REPO / ".venv-inabox"


def python_of(path: Path) -> Path:
    return path / "bin" / "python"


def ensure(path: Path, log: object = sys.stderr) -> str | None:
    """Create the virtualenv at ``path`` unless it has in-a-box already; return why it failed, or None."""
    python = python_of(path)
    if python.is_file() and _has_inabox(python):
        return None
    airflow = metadata.version("apache-airflow")
    command = [str(python), "-m", "pip", "install", "-q", INABOX_REQUIREMENT, f"apache-airflow=={airflow}"]
    constraints = REPO / "constraints" / f"airflow-{'.'.join(airflow.split('.')[:2])}.txt"
    if constraints.is_file():
        command += ["-c", str(constraints)]
    print(f"creating {path} for the in-a-box comparison: {' '.join(command[3:])}", file=log, flush=True)  # type: ignore[arg-type]
    try:
        if not python.is_file():
            venv.create(path, with_pip=True)
        done = subprocess.run(command, check=False, capture_output=True, text=True)
    except OSError as exc:
        return f"could not create {path}: {exc}"
    if done.returncode != 0:
        tail = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING"))[-2000:]
        return f"pip could not install {INABOX_REQUIREMENT} into {path} (exit {done.returncode}):\n{tail}"
    return None


def _has_inabox(python: Path) -> bool:
    code = "import importlib.metadata as m; m.version('pytest-airflow-in-a-box')"
    return subprocess.run([str(python), "-c", code], check=False, capture_output=True).returncode == 0
