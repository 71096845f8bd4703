"""Testing a read by key alone (no ``task_ids``), whose meaning changed between Airflow 2 and 3.

The snapshot beside this file was written on Airflow 3. The migration recipe in docs/how-to/migrating.md
writes one on Airflow 2 and diffs the two with ``pytest-xcom diff``.
"""

from importlib import metadata
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).parent.parent / "token_handoff.py"

# The DAG imports airflow.decorators on purpose (it runs on Airflow 2 and 3). Airflow 3 warns about
# that on every load; under xdist each warning also makes the controller import Airflow just to
# rebuild the warning's class, seconds of CPU the workers need.
pytestmark = pytest.mark.filterwarnings(r"ignore:The `airflow\.decorators\.:FutureWarning")
AIRFLOW_2 = metadata.version("apache-airflow").startswith("2.")


def test_nothing_fails_on_either_airflow_version(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()  # that is the trap: the change is silent
    run.assert_pushed("issue_token", "token", "tok-2026-demo")


def test_what_the_read_without_task_ids_finds_depends_on_the_airflow_version(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    [read] = [p for p in run.pulled_by("call_api") if p.key == "token"]
    assert not read.task_ids_explicit
    if run.airflow_version.startswith("2."):
        # Airflow 2 searched every task of the run and found issue_token's token
        assert read.found and run.consumers("issue_token", "token") == {"call_api"}
        assert run.value("call_api") == {"Authorization": "Bearer tok-2026-demo"}
    else:
        # Airflow 3 read call_api's own XComs: there is no token there
        assert (read.source_task_id, read.found) == ("call_api", False)
        assert run.consumers("issue_token", "token") == set()
        assert run.value("call_api") == {}


def test_the_strict_policy_names_the_pull_to_fix(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    with pytest.raises(AssertionError, match="call_api") as caught:
        run.assert_no_implicit_pulls()
    assert "task_ids" in str(caught.value)


@pytest.mark.xfail(AIRFLOW_2, reason="the snapshot here is Airflow 3's; on Airflow 2 call_api finds the token")
def test_token_handoff_traffic(xcom, xcom_snapshot):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()
    xcom_snapshot.assert_match(run)
