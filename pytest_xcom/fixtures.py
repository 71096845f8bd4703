"""The fixtures: thin layers over MetadataDB and XComHarness, scoped like pytest-django's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_xcom.db import MetadataDB, XComDB
from pytest_xcom.harness import XComHarness

HARNESS = pytest.StashKey[XComHarness]()


def _isolation(config: pytest.Config):  # type: ignore[no-untyped-def]
    from pytest_xcom.plugin import ISOLATION

    return config.stash[ISOLATION]


@pytest.fixture(scope="session")
def xcom_metadata_db(pytestconfig: pytest.Config) -> Iterator[MetadataDB]:
    """The process's metadata DB; the migrated template is built once and cached on disk."""
    db = MetadataDB(_isolation(pytestconfig))
    db.prepare()
    yield db
    db.close()


@pytest.fixture
def xcom_db(xcom_metadata_db: MetadataDB) -> XComDB:
    """A fresh, fully migrated metadata DB for this test, with ``.url`` and ``.session()``."""
    xcom_metadata_db.reset()
    return XComDB(xcom_metadata_db)


@pytest.fixture
def xcom(xcom_db: XComDB, request: pytest.FixtureRequest) -> Iterator[XComHarness]:
    """Runs DAGs through dag.test() on this test's isolated DB and records their XCom traffic."""
    from pytest_xcom.plugin import policy_for

    harness = XComHarness(dags_folder=_isolation(request.config).dags_folder, policy=policy_for(request.node))
    request.node.stash[HARNESS] = harness
    yield harness
    harness.close()
