"""Airflow's object-storage XCom backend (common-io provider): settings and caches."""

from __future__ import annotations

import contextlib
import importlib

from pytest_xcom._airflow.versions import airflow_version, before, is_airflow2

OBJECT_STORAGE_SECTION = "AIRFLOW__COMMON_IO__"


# What each emulated store needs beyond the common-io provider: the provider filesystem module that
# serves its path scheme, the fsspec filesystem, and the emulator or client the harness drives.
STORE_MODULES = {
    "s3": ("airflow.providers.amazon.aws.fs.s3", "s3fs"),
    "gcs": ("airflow.providers.google.cloud.fs.gcs", "gcsfs", "google.cloud.storage", "gcp_storage_emulator.server"),
    "azure": ("airflow.providers.microsoft.azure.fs.adls", "adlfs", "azure.storage.blob"),
}
STORE_NEEDS = {
    "s3": "Airflow's common-io and amazon providers and s3fs",
    "gcs": "Airflow's common-io and google providers, gcsfs, google-cloud-storage and gcp-storage-emulator",
    "azure": "Airflow's common-io and microsoft-azure providers, adlfs and azure-storage-blob",
}


def object_storage_backend(store: str = "s3") -> type:
    """Airflow's object-storage XCom backend, once what the ``store`` ("s3", "gcs", "azure") needs imports."""
    if store != "s3" and is_airflow2():
        # The google and microsoft-azure providers' Airflow 2 releases pin dependencies no
        # constraints set here resolves, so the emulator wiring is built and tested on Airflow 3 only.
        raise ImportError(
            f"the {store!r} XCom backend needs Airflow 3 (this is Airflow {airflow_version()}); on "
            "Airflow 2 use 's3', or your own backend class with the xcom_backend marker"
        )
    try:
        from airflow.providers.common.io.xcom.backend import XComObjectStorageBackend

        for module_name in STORE_MODULES[store]:
            importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"the {store!r} XCom backend needs {STORE_NEEDS[store]}: "
            f'pip install "pytest-xcom[{store}]" (missing: {exc.name or exc})'
        ) from exc
    _import_provider_filesystems()
    return XComObjectStorageBackend


def _import_provider_filesystems() -> None:
    """Import the filesystem modules providers declare (``airflow.providers.amazon.aws.fs.s3``, ...).

    Airflow 3.0 loads them with ``import_string``, which finds a submodule only once something
    has imported it; newer amazon providers no longer do, so ``s3://`` paths fail with
    'Module "airflow.providers.amazon.aws.fs" does not define a "s3" attribute'. 3.1+ import them.
    """
    if not before("3.1"):
        return
    from airflow.providers_manager import ProvidersManager

    for module_name in ProvidersManager().filesystem_module_names:  # type: ignore[no-untyped-call]
        with contextlib.suppress(ImportError):
            importlib.import_module(module_name)


def object_storage_settings(path: str, threshold: int, compression: str | None) -> dict[str, str | None]:
    """Environment variables that configure the object-storage backend."""
    return {
        f"{OBJECT_STORAGE_SECTION}XCOM_OBJECTSTORAGE_PATH": path,
        f"{OBJECT_STORAGE_SECTION}XCOM_OBJECTSTORAGE_THRESHOLD": str(threshold),
        f"{OBJECT_STORAGE_SECTION}XCOM_OBJECTSTORAGE_COMPRESSION": compression,
    }


def clear_object_storage_caches() -> None:
    """Forget settings and filesystems the object-storage backend cached (functools.cache)."""
    with contextlib.suppress(ImportError):
        from airflow.providers.common.io.xcom import backend

        for name in ("_get_base_path", "_get_compression", "_get_threshold"):
            cached = getattr(backend, name, None)
            if cached is not None and hasattr(cached, "cache_clear"):
                cached.cache_clear()
    with contextlib.suppress(ImportError):
        from airflow.sdk.io import store

        store._STORE_CACHE.clear()
    with contextlib.suppress(ImportError):  # Airflow 2 keeps its stores here (a test's moto endpoint)
        from airflow.io import store as af2_store  # type: ignore[attr-defined]

        af2_store._STORE_CACHE.clear()
    with contextlib.suppress(ImportError):
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
    with contextlib.suppress(ImportError):  # a filesystem made for another test's emulator port
        import gcsfs

        gcsfs.GCSFileSystem.clear_instance_cache()
    with contextlib.suppress(ImportError):
        import adlfs

        adlfs.AzureBlobFileSystem.clear_instance_cache()


def compression_supported(compression: str) -> bool:
    import fsspec.utils

    return compression in fsspec.utils.compressions.values()
