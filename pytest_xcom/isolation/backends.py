"""Choosing the XCom backend of a run: "db", "s3", "gcs", "azure", or the dotted path of a user's BaseXCom class."""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pytest_xcom import _airflow
from pytest_xcom.errors import BackendError, SizeError
from pytest_xcom.isolation.azure import AZURE_CONN_ID, wasb_connection_uri
from pytest_xcom.isolation.gcs import GCS_CONN_ID
from pytest_xcom.isolation.services import S3_CONN_ID, MockedServices
from pytest_xcom.sizes import parse_size

S3_OPTIONS = ("threshold", "compression", "bucket", "prefix")
# The object-storage backends: Airflow's own backend on an emulated store, with the same options.
OBJECT_STORES = ("s3", "gcs", "azure")
STORE_NAMES = {"s3": "S3 bucket", "gcs": "GCS bucket", "azure": "Azure Blob Storage container"}
DEFAULT_BUCKET = "pytest-xcom"
DEFAULT_PREFIX = "xcom"


@dataclass(frozen=True)
class BackendChoice:
    """A backend name and its options, validated."""

    name: str = "db"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise BackendError(
                "an XCom backend is named by a string: 'db', 's3', 'gcs', 'azure' or a dotted class path, "
                f"not {self.name!r}"
            )
        if self.name not in ("db", *OBJECT_STORES) and not self.name.rpartition(".")[0]:
            raise BackendError(_not_a_backend_name(self.name))
        allowed = S3_OPTIONS if self.name in OBJECT_STORES else ()
        unknown = sorted(set(self.options) - set(allowed))
        if unknown:
            if allowed:
                raise BackendError(
                    f"unknown option(s) {', '.join(unknown)} for XCom backend {self.name!r}; "
                    f"it accepts: {', '.join(allowed)}"
                )
            raise BackendError(
                f"XCom backend {self.name!r} takes no options (got {', '.join(unknown)}); options are for "
                "'s3', 'gcs' and 'azure' only. Configure your own backend as in production (environment, "
                "Airflow config)."
            )
        if self.name in OBJECT_STORES:
            self._check_store_options()

    def _check_store_options(self) -> None:
        threshold = self.options.get("threshold", 0)
        try:
            parse_size(threshold)
        except SizeError as exc:
            raise BackendError(f"{self.name} backend option threshold: {exc}") from None
        compression = self.options.get("compression")
        if compression is not None and not _airflow.compression_supported(compression):
            raise BackendError(
                f"{self.name} backend option compression={compression!r} is not a compression fsspec knows "
                "(e.g. 'gzip', 'bz2', 'lzma', 'zstd' when installed)"
            )
        for name in ("bucket", "prefix"):
            if name in self.options and not isinstance(self.options[name], str):
                raise BackendError(f"{self.name} backend option {name} must be a string, not {self.options[name]!r}")
        problem = NAME_PROBLEMS[self.name](self.bucket)
        if problem:
            raise BackendError(
                f"{self.name} backend option bucket={self.bucket!r} is not a valid "
                f"{STORE_NAMES[self.name]} name: {problem}"
            )

    @property
    def bucket(self) -> str:
        return str(self.options.get("bucket", DEFAULT_BUCKET))

    def describe(self) -> str:
        if not self.options:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in sorted(self.options.items()))})"


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def bucket_name_problem(bucket: str) -> str | None:
    """What breaks S3's bucket naming rules in ``bucket`` (None when it is a valid name)."""
    if not 3 <= len(bucket) <= 63:
        return f"it has {len(bucket)} characters; a bucket name has 3 to 63"
    if not _BUCKET.match(bucket):
        return "use lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
    if ".." in bucket or _IP_ADDRESS.match(bucket):
        return "no two adjacent dots, and not an IP address"
    return None


_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")


def gcs_bucket_name_problem(bucket: str) -> str | None:
    """What breaks GCS's bucket naming rules in ``bucket`` (None when it is a valid name)."""
    if not 3 <= len(bucket) <= 63:
        return f"it has {len(bucket)} characters; a bucket name has 3 to 63"
    if not _GCS_BUCKET.match(bucket):
        return (
            "use lowercase letters, digits, dots, hyphens and underscores, starting and ending with a letter or digit"
        )
    if ".." in bucket or _IP_ADDRESS.match(bucket):
        return "no two adjacent dots, and not an IP address"
    if bucket.startswith("goog") or "google" in bucket:
        return "it may not start with 'goog' nor contain 'google'"
    return None


_CONTAINER = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")


def container_name_problem(container: str) -> str | None:
    """What breaks Azure's container naming rules in ``container`` (None when it is a valid name)."""
    if not 3 <= len(container) <= 63:
        return f"it has {len(container)} characters; a container name has 3 to 63"
    if not _CONTAINER.match(container) or "--" in container:
        return "use lowercase letters, digits and single hyphens, starting and ending with a letter or digit"
    return None


NAME_PROBLEMS = {"s3": bucket_name_problem, "gcs": gcs_bucket_name_problem, "azure": container_name_problem}


def _not_a_backend_name(name: str) -> str:
    return (
        f"XCom backend {name!r} is neither 'db', 's3', 'gcs', 'azure' nor a dotted path such as "
        "'my_project.xcom_backend.MyXCom'"
    )


def import_backend(path: str) -> type:
    """The BaseXCom subclass at ``path`` ("package.module.Class"), or a clear error naming it."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise BackendError(_not_a_backend_name(path))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(f"XCom backend {path!r}: cannot import module {module_name!r}: {exc}") from exc
    except Exception as exc:  # the module itself fails: say which backend, and what it raised
        raise BackendError(
            f"XCom backend {path!r}: importing module {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    try:
        backend = getattr(module, class_name)
    except AttributeError:
        names = sorted(n for n in dir(module) if not n.startswith("_") and isinstance(getattr(module, n), type))
        raise BackendError(
            f"XCom backend {path!r}: module {module_name!r} has no attribute {class_name!r}"
            + (f"; its classes: {', '.join(names)}" if names else "")
        ) from None
    base = _airflow.base_xcom_class()
    if not isinstance(backend, type) or not issubclass(backend, base):
        raise BackendError(
            f"XCom backend {path!r} is not a subclass of {base.__module__}.{base.__name__} (it is {backend!r})"
        )
    return backend


@contextlib.contextmanager
def activated(choice: BackendChoice, services: MockedServices) -> Iterator[type]:
    """Configure the chosen backend for one run and yield its class."""
    if choice.name == "db":
        yield _airflow.base_xcom_class()
        return
    if choice.name in OBJECT_STORES:
        try:
            backend = _airflow.object_storage_backend(choice.name)
        except ImportError as exc:
            raise BackendError(str(exc)) from exc
        with _object_storage(choice, services):
            yield backend
        return
    backend = import_backend(choice.name)
    services.s3_endpoint()  # a user's backend may well talk to S3: have the mock ready
    if _uses_azure(backend):  # Azurite is a process of its own: started only for backends that use Azure
        services.start_azurite_if_installed()
    yield backend


def _store_connection(name: str, services: MockedServices, bucket: str) -> tuple[str, str]:
    """The path scheme and connection id of an emulated store, its bucket made, its connection set."""
    if name == "azure":
        services.ensure_azure_container(bucket)
        connection = wasb_connection_uri(services.azure_connection_string())
        services.set_env({f"AIRFLOW_CONN_{AZURE_CONN_ID.upper()}": connection})
        return "abfs", AZURE_CONN_ID
    if name == "gcs":
        services.ensure_gcs_bucket(bucket)
        services.set_env({f"AIRFLOW_CONN_{GCS_CONN_ID.upper()}": services.gcs_connection_uri()})
        return "gs", GCS_CONN_ID
    services.ensure_bucket(bucket)
    services.set_env({f"AIRFLOW_CONN_{S3_CONN_ID.upper()}": services.aws_connection_uri()})
    return "s3", S3_CONN_ID


_AZURE_MODULES = ("azure.", "adlfs", "airflow.providers.microsoft.azure")


def _uses_azure(backend: type) -> bool:
    """Whether the module of ``backend`` holds anything from the Azure SDK, adlfs or Airflow's Azure provider."""
    module = sys.modules.get(backend.__module__)
    for value in vars(module).values() if module is not None else ():
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith(_AZURE_MODULES):
            return True
    return False


@contextlib.contextmanager
def _object_storage(choice: BackendChoice, services: MockedServices) -> Iterator[None]:
    scheme, conn_id = _store_connection(choice.name, services, choice.bucket)
    prefix = str(choice.options.get("prefix", DEFAULT_PREFIX)).strip("/")
    path = f"{scheme}://{conn_id}@{choice.bucket}" + (f"/{prefix}" if prefix else "")
    settings = _airflow.object_storage_settings(
        path=path,
        threshold=parse_size(choice.options.get("threshold", 0)),
        compression=choice.options.get("compression"),
    )
    services.set_env(settings)
    _airflow.clear_object_storage_caches()
    try:
        yield
    finally:
        _airflow.clear_object_storage_caches()
