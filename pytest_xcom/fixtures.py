"""The fixtures: thin layers over the library, scoped like pytest-django's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_xcom.harness import XComHarness
from pytest_xcom.isolation.azure import Azurite, XComAzure
from pytest_xcom.isolation.db import MetadataDB, ServerMetadataDB, XComDB, cache_dir, metadata_db_for
from pytest_xcom.isolation.gcs import GCSEmulator, XComGCS
from pytest_xcom.isolation.s3 import MotoServer, XComS3
from pytest_xcom.isolation.services import MockedServices
from pytest_xcom.options import (
    AIRFLOW_LOGS,
    backend_for,
    isolation,
    policy_for,
    real_services,
    silenced_log_handlers,
)
from pytest_xcom.snapshots.assertion import XComSnapshot, snapshot_for

if TYPE_CHECKING:
    from pytest_xcom.isolation.redis_routing import XComRedis

HARNESS = pytest.StashKey[XComHarness]()


@pytest.fixture(scope="session")
def xcom_metadata_db(pytestconfig: pytest.Config) -> Iterator[MetadataDB | ServerMetadataDB]:
    """The process's metadata DB, migrated once: a cached SQLite template, or a server DB (--xcom-db)."""
    db = metadata_db_for(isolation(pytestconfig))
    db.prepare()
    yield db
    db.close()


@pytest.fixture(scope="session")
def xcom_moto_server() -> Iterator[MotoServer]:
    """moto's S3 server on a loopback port, started on first use; state is reset per test."""
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def xcom_gcs_emulator() -> Iterator[GCSEmulator]:
    """The GCS emulator on a loopback port, started on first use; buckets and objects are wiped per test."""
    server = GCSEmulator()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def xcom_azurite() -> Iterator[Azurite]:
    """Azurite (when installed) on a loopback port, started on first use; containers are deleted per test."""
    server = Azurite(cache_dir())
    yield server
    server.stop()


@pytest.fixture
def xcom_services(
    xcom_moto_server: MotoServer, xcom_gcs_emulator: GCSEmulator, xcom_azurite: Azurite, pytestconfig: pytest.Config
) -> Iterator[MockedServices]:
    """AWS SDKs routed to the S3 mock, GCS and Azure clients to emulators, Redis clients to fakeredis."""
    services = MockedServices(
        moto=xcom_moto_server,
        home=isolation(pytestconfig).root,
        real=real_services(pytestconfig),
        gcs=xcom_gcs_emulator,
        azurite=xcom_azurite,
    )
    with services.active():
        yield services


@pytest.fixture
def xcom_db(xcom_metadata_db: MetadataDB | ServerMetadataDB) -> XComDB:
    """A fresh, fully migrated metadata DB for this test, with ``.url`` and ``.session()``."""
    xcom_metadata_db.reset()
    return XComDB(xcom_metadata_db)


@pytest.fixture
def xcom(xcom_db: XComDB, xcom_services: MockedServices, request: pytest.FixtureRequest) -> Iterator[XComHarness]:
    """Runs DAGs through dag.test() on this test's isolated DB and records their XCom traffic."""
    harness = XComHarness(
        dags_folder=isolation(request.config).dags_folder,
        services=xcom_services,
        policy=policy_for(request.node),
        backend=backend_for(request.node),
        airflow_logs=request.config.stash.get(AIRFLOW_LOGS, "failed"),
        silenced_log_handlers=silenced_log_handlers(request.config),
    )
    request.node.stash[HARNESS] = harness
    yield harness
    harness.close()


@pytest.fixture
def xcom_s3(xcom_services: MockedServices, request: pytest.FixtureRequest) -> XComS3:
    """The mocked S3 bucket (the s3 backend's bucket when the test uses one): client, keys, read."""
    return XComS3(xcom_services, backend_for(request.node).bucket)


@pytest.fixture
def xcom_gcs(xcom_services: MockedServices, request: pytest.FixtureRequest) -> XComGCS:
    """The emulated GCS bucket (the gcs backend's bucket when the test uses one): client, keys, read."""
    return XComGCS(xcom_services, backend_for(request.node).bucket)


@pytest.fixture
def xcom_azure(xcom_services: MockedServices, request: pytest.FixtureRequest) -> XComAzure:
    """The emulated Azure Blob Storage container (the azure backend's when the test uses one): client, keys, read."""
    return XComAzure(xcom_services, backend_for(request.node).bucket)


@pytest.fixture
def xcom_redis(xcom_services: MockedServices) -> XComRedis:
    """A redis client on database 0 of the fake server Redis clients in task code reach; ``.db(n)``: database n."""
    return xcom_services.redis_client()


@pytest.fixture
def xcom_snapshot(request: pytest.FixtureRequest) -> XComSnapshot:
    """``assert_match(run, name=None)`` against __xcom_snapshots__/<module>/<test>.json beside the test."""
    return snapshot_for(request.node)
