"""XCom backends on emulated Google Cloud Storage: Airflow's object storage, users' own backends, fixtures."""

import pytest

from test_backends import THRESHOLD_DAG

gcs = pytest.importorskip("gcp_storage_emulator", reason='the GCS tests need pip install "pytest-xcom[gcs]"')

# Imported here, once: pytester drops what an in-process run imported, and a second copy of
# google.auth would make gcsfs refuse the first copy's credentials ("Token format not understood").
import airflow.providers.google.cloud.fs.gcs  # noqa: E402, F401
import gcsfs  # noqa: E402, F401
import google.auth.credentials  # noqa: E402, F401
import google.cloud.storage  # noqa: E402, F401


def test_gcs_backend_threshold(user_tests, pytester):
    # No compression here: on GCS a compressed write races its reader (see the test after this one).
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    result = user_tests(
        """
        import json, pytest
        from sizes_dag import sizes_dag

        @pytest.mark.xcom_backend("gcs", threshold=100, bucket="lake", prefix="runs/xcom")
        def test_threshold(xcom, xcom_gcs):
            run = xcom.run(sizes_dag)
            run.assert_succeeded()
            run.assert_inline("tiny")
            run.assert_offloaded("exact")          # at the threshold: offloaded
            run.assert_offloaded("big")
            assert run.value("consume") == [10, 98, 5000]   # consumers get values, not references
            run.assert_round_trip()
            big = run.pushed_by("big").get()
            assert big.size == 5002 and big.stored_size < 200
            assert big.stored.startswith("gs://pytest_xcom_gcs@lake/runs/xcom/sizes/"), big.stored
            assert xcom_gcs.bucket == "lake"
            keys = xcom_gcs.keys(prefix="runs/xcom/")
            assert len(keys) == 2, keys
            stored = sorted(json.loads(xcom_gcs.read(k)) for k in keys)
            assert stored == ["x" * 98, "x" * 5000]
            assert run.backend == "gcs"

        @pytest.mark.xcom_backend("gcs")
        def test_default_threshold_offloads_everything(xcom, xcom_gcs):
            run = xcom.run(sizes_dag)
            run.assert_succeeded()
            for task_id in ("tiny", "exact", "big", "consume"):
                run.assert_offloaded(task_id)
            assert xcom_gcs.bucket == "pytest-xcom" and len(xcom_gcs.keys(prefix="xcom/sizes/")) == 4
        """,
    )
    result.assert_outcomes(passed=2)


EVENTS_DAG = """
from airflow_compat import dag, task

@dag(schedule=None)
def events():
    @task
    def extract():
        return [{"day": "2026-01-01", "payload": "x" * 200} for _ in range(10)]
    @task
    def summarize(events):
        return events[0]["day"]
    summarize(extract())

events_dag = events()
"""


def test_a_reader_that_gets_the_reference_instead_of_the_value_is_reported(user_tests, pytester):
    # What CI once met by chance, made certain: the object-storage backend leaves a compressed
    # write open, gcsfs (2026.x) uploads a file dropped open from its one background thread, and the
    # reader ran before that upload. Holding that thread makes the reader always win the race.
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG, events_dag=EVENTS_DAG)
    result = user_tests(
        """
        import threading, pytest
        import gcsfs.core
        from events_dag import events_dag
        from sizes_dag import sizes_dag

        @pytest.fixture(autouse=True)
        def uploads_held_back():
            release = threading.Event()
            gcsfs.core._start_deferred_close_worker().put(release.wait)   # private: gcsfs 2026.x
            yield
            release.set()

        @pytest.mark.xcom_backend("gcs", threshold=100, compression="gzip")
        def test_a_reader_fails_on_the_reference(xcom):
            run = xcom.run(events_dag)
            (read,) = [p for p in run.pulls if p.task_id == "summarize"]
            assert read.received_reference == run.pushed_by("extract").get().stored
            assert read.received_reference.endswith(".gz")
            run.assert_succeeded()

        @pytest.mark.xcom_backend("gcs", threshold=100, compression="gzip")
        def test_a_run_that_succeeds_on_references(xcom):
            run = xcom.run(sizes_dag)
            run.assert_succeeded()                         # len() of a string works too...
            assert run.value("consume") != [10, 98, 5000]  # ...on the reference, not the value
            run.assert_round_trip()
        """,
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*TypeError: string indices must be integers*",
            "*Readers that received a stored reference instead of the value:*",
            "*summarize read extract key 'return_value' and got 'gs://pytest_xcom_gcs@pytest-xcom/xcom/events/*.gz'"
            " (str), not the value",
            "*with compression on GCS the next task can read before the upload ends*",
            "*do not reach their readers as pushed (backend 'gcs')*",
            "*big key 'return_value':*",
            "*received by consume: the stored reference 'gs://*.gz', not the value",
        ]
    )


def test_each_test_starts_with_an_empty_emulator_and_every_client_reaches_it(user_tests):
    result = user_tests(
        """
        import os, pytest

        def test_writes(xcom_gcs):
            from google.cloud import storage
            import gcsfs

            storage.Client().bucket(xcom_gcs.bucket).blob("left/over.json").upload_from_string(b"{}")
            assert xcom_gcs.read("left/over.json") == b"{}"
            assert gcsfs.GCSFileSystem().cat(f"{xcom_gcs.bucket}/left/over.json") == b"{}"   # gcsfs, no token

        def test_the_gcs_hook_on_google_cloud_default_reaches_it(xcom_gcs):
            from airflow.providers.google.cloud.hooks.gcs import GCSHook

            hook = GCSHook()   # google_cloud_default: anonymous, on the emulator
            hook.upload(xcom_gcs.bucket, "by/hook.txt", data=b"hooked")
            assert xcom_gcs.keys() == ["by/hook.txt"], "the previous test's object should be gone"
            assert hook.download(xcom_gcs.bucket, "by/hook.txt") == b"hooked"

        def test_read_of_a_missing_object_is_clear(xcom_gcs):
            with pytest.raises(KeyError, match="no object 'nope' in the emulated bucket 'pytest-xcom'; it holds: nothing"):
                xcom_gcs.read("nope")

        def test_the_emulator_is_not_started_for_a_test_that_never_reaches_it(xcom, xcom_gcs_emulator):
            assert os.environ["STORAGE_EMULATOR_HOST"] == xcom_gcs_emulator.endpoint_url
            assert not xcom_gcs_emulator.started or xcom_gcs_emulator._used is False
        """,
    )
    result.assert_outcomes(passed=4)


def test_real_google_credentials_are_hidden_and_the_environment_restored(user_tests, monkeypatch, tmp_path):
    keyfile = tmp_path / "key.json"
    keyfile.write_text("{}")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(keyfile))
    monkeypatch.setenv("GCLOUD_PROJECT", "production-project")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    result = user_tests(
        """
        import json, os

        def test_inside(xcom, xcom_gcs_emulator):
            assert "GOOGLE_APPLICATION_CREDENTIALS" not in os.environ and "GCLOUD_PROJECT" not in os.environ
            assert os.environ["GOOGLE_CLOUD_PROJECT"] == "pytest-xcom"
            connection = json.loads(os.environ["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"])
            print("GCP", connection["conn_type"], connection["extra"]["is_anonymous"])
            assert connection["extra"]["gcs.endpoint"] == xcom_gcs_emulator.endpoint_url

        def test_outside_the_fixtures_the_environment_is_back():
            assert os.environ["GOOGLE_APPLICATION_CREDENTIALS"].endswith("key.json")
            assert os.environ["GCLOUD_PROJECT"] == "production-project"
            assert "STORAGE_EMULATOR_HOST" not in os.environ
            assert "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT" not in os.environ
        """,
        "-s",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*GCP google_cloud_platform True"])


def test_a_users_gcs_backend_runs_unchanged_on_the_emulator(user_tests, pytester):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    result = user_tests(
        """
        import json, pytest
        from sizes_dag import sizes_dag

        @pytest.fixture(autouse=True)
        def bucket(xcom_gcs, monkeypatch):
            monkeypatch.setenv("XCOM_GCS_BUCKET", xcom_gcs.bucket)

        @pytest.mark.xcom_backend("xcom_backends.gcs_xcom.GCSXComBackend")
        def test_every_value_lands_in_the_bucket(xcom, xcom_gcs):
            run = xcom.run(sizes_dag)
            run.assert_succeeded()
            run.assert_offloaded("big")
            assert run.value("consume") == [10, 98, 5000]
            assert run.pushed_by("big").get().stored.startswith("gs://pytest-xcom/xcom/sizes/")
            keys = xcom_gcs.keys(prefix="xcom/sizes/")
            assert len(keys) == 4, keys
            assert json.loads(xcom_gcs.read(keys[0])) in ("x" * 98, "x" * 5000, "x" * 10, [10, 98, 5000])
        """,
    )
    result.assert_outcomes(passed=1)


CONTRACT = """
import pytest
from pytest_xcom.contract import XComBackendContract

class TestAirflowObjectStorageOnGCS(XComBackendContract):
    backend = "gcs"
    backend_options = {"threshold": 1024}  # compressed writes on GCS race their readers: see above
    # Airflow's backend catches FileNotFoundError in deserialize_value and returns the stored
    # path, so a missing object reaches consumers as a string (common-io provider 1.11.0).
    known_flaws = frozenset({"missing_object_is_a_clear_error"})

class TestExampleGCSBackend(XComBackendContract):
    backend = "xcom_backends.gcs_xcom.GCSXComBackend"

    @pytest.fixture(autouse=True)
    def bucket(self, xcom_gcs, monkeypatch):
        monkeypatch.setenv("XCOM_GCS_BUCKET", xcom_gcs.bucket)
"""


def test_the_contract_passes_on_gcs_and_on_a_users_gcs_backend(user_tests):
    result = user_tests(CONTRACT, "-v", "-rsx")
    # 2 backends x 11 checks; Airflow's object storage fails its one known flaw: 1 expected failure
    result.assert_outcomes(passed=21, xfailed=1)
    result.stdout.fnmatch_lines(["*TestExampleGCSBackend::test_missing_object_is_a_clear_error PASSED*"])


@pytest.mark.bad_input("invalid-gcs-bucket-name")
def test_an_invalid_gcs_bucket_name_is_refused_when_the_marker_is_read(user_tests):
    result = user_tests(
        """
        import pytest

        @pytest.mark.xcom_backend("gcs", bucket="google-xcom")
        def test_case(xcom):
            raise AssertionError("never reached: the marker is refused first")
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.xcom_backend: gcs backend option bucket='google-xcom' is not a valid GCS bucket name: "
         "it may not start with 'goog' nor contain 'google'*"]
    )


@pytest.mark.bad_input("invalid-azure-container-name")
def test_an_invalid_azure_container_name_is_refused_when_the_marker_is_read(user_tests):
    result = user_tests(
        """
        import pytest

        @pytest.mark.xcom_backend("azure", bucket="xcom--runs")
        def test_case(xcom):
            raise AssertionError("never reached: the marker is refused first")
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.xcom_backend: azure backend option bucket='xcom--runs' is not a valid Azure Blob Storage "
         "container name: use lowercase letters, digits and single hyphens*"]
    )


@pytest.mark.bad_input("object-store-extra-not-installed")
def test_a_missing_extra_names_the_pip_command(user_tests, pytester):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    result = user_tests(
        """
        import sys, pytest
        from pytest_xcom import BackendError
        from sizes_dag import sizes_dag

        def test_case(xcom, monkeypatch):
            monkeypatch.setitem(sys.modules, "gcsfs", None)   # as if gcsfs were not installed
            with pytest.raises(BackendError) as info:
                xcom.run(sizes_dag, backend="gcs")
            print("MESSAGE", info.value)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*MESSAGE the 'gcs' XCom backend needs Airflow's common-io and google providers, gcsfs, "
         "google-cloud-storage and gcp-storage-emulator: pip install \"pytest-xcom[[]gcs]\" (missing: gcsfs)"]
    )


@pytest.mark.bad_input("azurite-not-installed")
def test_without_azurite_the_azure_backend_says_how_to_install_it(user_tests, pytester, monkeypatch, tmp_path):
    pytester.makepyfile(sizes_dag=THRESHOLD_DAG)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))       # no global azurite-blob (CI installs one in /usr/bin)
    monkeypatch.setenv("PYTEST_XCOM_CACHE_DIR", str(tmp_path / "cache"))   # nor one in the cache
    monkeypatch.delenv("PYTEST_XCOM_AZURITE", raising=False)
    result = user_tests(
        """
        import pytest
        from pytest_xcom import BackendError
        from sizes_dag import sizes_dag

        def test_case(xcom):
            with pytest.raises(BackendError) as info:
                xcom.run(sizes_dag, backend="azure")
            print("MESSAGE", info.value)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*MESSAGE Azure Blob Storage is emulated with Azurite, which is not installed: install Azurite "
         "(Node.js >= 20): npm install -g azurite, or npm install --prefix */cache/azurite azurite, or set "
         "PYTEST_XCOM_AZURITE to the path of azurite-blob"]
    )


@pytest.mark.bad_input("emulator-does-not-start-in-time")
def test_an_azurite_that_never_listens_is_a_clear_error_after_its_timeout(user_tests, monkeypatch, tmp_path):
    silent = tmp_path / "azurite-blob"
    silent.write_text("#!/bin/sh\necho 'starting, slowly'\nexec sleep 30\n")
    silent.chmod(0o755)
    monkeypatch.setenv("PYTEST_XCOM_AZURITE", str(silent))
    monkeypatch.setenv("PYTEST_XCOM_AZURITE_TIMEOUT", "1")
    result = user_tests(
        """
        import pytest
        from pytest_xcom import BackendError

        def test_case(xcom_services):
            with pytest.raises(BackendError) as info:
                xcom_services.azure_connection_string()
            print("MESSAGE", info.value)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*MESSAGE Azurite did not start listening on 127.0.0.1:* within 1 s (its output: starting, slowly); "
         "check that `*azurite-blob --version` runs on this machine, or give it longer with PYTEST_XCOM_AZURITE_TIMEOUT"]
    )
