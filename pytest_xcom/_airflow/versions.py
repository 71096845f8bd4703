"""Which Airflow is installed, and the behaviours that differ between its releases."""

from __future__ import annotations

import functools
from importlib import metadata

AIRFLOW_DISTRIBUTIONS = ("apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk")


@functools.cache  # installed distributions do not change under a running process
def airflow_version() -> str:
    """The installed Airflow version, read without importing Airflow."""
    for name in ("apache-airflow", "apache-airflow-core"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def before(release: str) -> bool:
    """Whether the installed Airflow is older than ``release`` (e.g. "3.1"); a 3.1 pre-release is not."""
    from packaging.version import Version

    return Version(Version(airflow_version()).base_version) < Version(release)


def is_airflow2() -> bool:
    """Airflow 2.10 / 2.11: no Task SDK; XComs are recorded at the XCom model layer instead."""
    return before("3.0")


def default_xcom_backend_path() -> str:
    """The dotted path of Airflow's own XCom class, for ``[core] xcom_backend``."""
    return "airflow.models.xcom.BaseXCom" if is_airflow2() else "airflow.sdk.bases.xcom.BaseXCom"


# (Airflow release prefix, distribution, first bad version, what to install, what breaks): dependency
# releases that pip picks for an unconstrained install and that break tasks under dag.test().
_BROKEN_DEPENDENCIES = (
    # The 3.0 execution API rejects the task-start request body with a 422 ("Input should be a
    # valid dictionary or object to extract fields from") on FastAPI >= 0.118 / Cadwyn >= 5.5.
    ("3.0.", "fastapi", "0.118", "fastapi<0.118", "tasks"),
    # The 3.2 execution API cannot be built on FastAPI >= 0.156.1 (bisected): pydantic raises
    # "Model 'TITerminalStatePayload' needs a discriminator field". Airflow 3.3 caps FastAPI itself.
    ("3.2.", "fastapi", "0.156.1", "fastapi<0.156.1", "tasks"),
    # Airflow 2.10's ObjectStoragePath subclasses universal-pathlib's UPath; 0.3 refuses it for s3
    # ("detected protocol s3 which is incompatible with ObjectStoragePath"). 2.11 caps it itself.
    ("2.10.", "universal-pathlib", "0.3", "universal-pathlib<0.3", "the object-storage (s3) XCom backend"),
)


def dependency_problems() -> list[str]:
    """Installed dependency versions known to make tasks of ``dag.test()`` fail on this Airflow."""
    from packaging.version import Version

    found = []
    version = airflow_version()
    for prefix, dist, first_bad, fix, what in _BROKEN_DEPENDENCIES:
        if not version.startswith(prefix):
            continue
        try:
            installed = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        if Version(installed) >= Version(first_bad):
            found.append(f"apache-airflow {version} does not run {what} with {dist} {installed}: pip install '{fix}'")
    return found


@functools.cache  # as airflow_version; watch mode restarts its warm process when they change
def schema_fingerprint() -> str:
    """What the migrated schema depends on: every installed Airflow distribution and SQLAlchemy."""
    parts = []
    for dist in metadata.distributions():
        if not _may_be_schema_distribution(dist):
            continue
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("apache-airflow") or name == "sqlalchemy":
            parts.append(f"{name}=={dist.version}")
    return ";".join(sorted(set(parts)))


def _may_be_schema_distribution(dist: metadata.Distribution) -> bool:
    """Whether the directory name of ``dist`` allows an Airflow distribution or SQLAlchemy.

    Parsing the metadata of every installed distribution (hundreds, beside Airflow's providers)
    took about 0.17 s of each pytest process; their ``*.dist-info`` names tell almost all of them
    apart. A distribution found another way keeps its metadata read.
    """
    path = getattr(dist, "_path", None)
    if path is None:
        return True
    stem = path.name.lower().replace("-", "_").replace(".", "_")
    return bool(stem.startswith(("apache_airflow", "sqlalchemy")))


def collapses_single_group_expansion() -> bool:
    """Whether this Airflow hands the single result of a mapped task group over as a bare value.

    Airflow 3.2.0 up to 3.3.2 do: the Task SDK computes the upstream map indexes itself, pulls
    with no ``map_indexes`` filter, and ``xcom_pull`` returns ``xcoms[0]`` when one value is found
    (apache/airflow#69036; fixed by apache/airflow#69075, which keeps it a one-element list).
    Airflow 3.0 and 3.1 hand over a one-element list: their execution API sends the upstream map
    indexes as a list with the task's run context, and a list of map indexes always pulls a list.
    """
    from packaging.version import Version

    return Version("3.2.0") <= Version(airflow_version()) <= Version("3.3.2")


def keeps_xcoms_per_attempt() -> bool:
    """Whether each attempt of a task instance keeps its own XComs (Airflow 3.4: ``xcom_v2``).

    Before 3.4 an attempt starts by deleting its task instance's XComs (the execution API sends the
    keys to clear); from 3.4 each attempt is a task-instance row of its own, an earlier attempt's
    XComs stay with it, and readers see the current attempt's.
    """
    return not is_airflow2() and not before("3.4")


def hands_group_results_lazily() -> bool:
    """Whether an unmapped task reading a mapped task group's result gets a lazy sequence (Airflow 3.4).

    Before 3.4 it gets the values themselves (a list, or on 3.2.0-3.3.2 a single bare value, see
    :func:`collapses_single_group_expansion`); from 3.4 a ``LazyXComSequence`` that reads each item
    when the task iterates it, as for a mapped task's result.
    """
    return not is_airflow2() and not before("3.4")


def pushes_none() -> bool:
    """Whether ``ti.xcom_push(key, None)`` works: Airflow 3.0's execution API answers 422 ("Field required")."""
    return is_airflow2() or not before("3.1")  # Airflow 2 stores it as JSON null
