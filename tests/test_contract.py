"""The backend contract: it passes on sound backends and names the flaw of each broken one."""

import re

import pytest
from pytest_xcom.contract import XComBackendContract

from airflow_compat import TASK_LOOPS, requires_airflow3

# The deliberately broken backends hand Airflow 3's BaseXCom JSON-ready values; Airflow 2's
# BaseXCom serializes to bytes, so they would fail for that and not for the flaw they carry.
BROKEN_BACKENDS_ARE_AIRFLOW3 = requires_airflow3(
    "tests/dag_files/broken_backends.py is written against Airflow 3's BaseXCom (JSON-ready values, not bytes)"
)

GOOD = """
import pytest
from pytest_xcom.contract import XComBackendContract

class TestMetadataDB(XComBackendContract):
    backend = "db"

class TestAirflowObjectStorage(XComBackendContract):
    backend = "s3"
    backend_options = {"threshold": 1024, "compression": "gzip"}
    # Airflow's backend catches FileNotFoundError in deserialize_value and returns the stored
    # path, so a missing object reaches consumers as a string (common-io provider 1.11.0).
    known_flaws = frozenset({"missing_object_is_a_clear_error"})

class TestExampleS3Backend(XComBackendContract):
    backend = "xcom_backends.s3_xcom.S3XComBackend"

    @pytest.fixture(autouse=True)
    def bucket(self, xcom_s3, monkeypatch):
        monkeypatch.setenv("XCOM_S3_BUCKET", xcom_s3.bucket)

class TestExampleRedisBackend(XComBackendContract):
    backend = "xcom_backends.redis_xcom.ExclusiveRedisXCom"

class TestCorrectDictStore(XComBackendContract):
    backend = "broken_backends.DictStoreXCom"
"""

CHECKS = [
    "round_trip_of_every_json_type",
    "small_values_are_not_double_encoded",
    "values_below_at_and_above_the_threshold",
    "multiple_outputs_reach_their_consumers",
    "mapped_upstream_read_whole_and_by_index",
    "single_expansion_stays_a_one_element_list",
    "value_read_later_equals_what_was_pushed",
    "retry_deletes_and_purges_the_failed_attempts_xcom",
    "clearing_deletes_and_purges_the_previous_xcom",
    "missing_object_is_a_clear_error",
    "stored_reference_is_small",
]


@BROKEN_BACKENDS_ARE_AIRFLOW3
def test_contract_passes_on_sound_backends(user_tests, pytester, monkeypatch):
    monkeypatch.syspath_prepend(str(pytester.path))
    pytester.copy_example("broken_backends.py")
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parents[1] / "example_dags"))
    result = user_tests(GOOD, "-v", "-rsx")
    # 5 backends x 11 checks; the DB keeps values inline, so nothing can go missing: 1 skip;
    # Airflow's object storage fails its one known flaw: 1 expected failure
    result.assert_outcomes(passed=53, skipped=1, xfailed=1)
    for check in CHECKS:
        result.stdout.fnmatch_lines([f"*TestCorrectDictStore::test_{check} PASSED*"])
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *: db keeps this value in the metadata DB: no stored object can go missing",
            "XFAIL test_user.py::TestAirflowObjectStorage::test_missing_object_is_a_clear_error - known flaw of s3: a missing object silently comes back as its reference string *",
        ]
    )


FLAWS = {
    "ReturnsReference": (
        "round_trip_of_every_json_type",
        "*key 'list': the consumer received the stored reference 'mem://xcom_contract_round_trip/*' instead of the value: deserialize_value must fetch what the reference points to",
    ),
    "DoubleEncodes": (
        "small_values_are_not_double_encoded",
        "*key 'string': the DB row holds the JSON text '\"orders.csv\"' instead of the value 'orders.csv': serialize_value encodes twice",
    ),
    "SharedKeyForMapped": (
        "mapped_upstream_read_whole_and_by_index",
        "*read whole, the mapped values were [[]{'id': ?, 'double': *}, {'id': ?, 'double': *}, {'id': ?, 'double': *}[]]; expected * (map indexes overwriting each other's stored objects?)",
    ),
    "CollapsesSingleList": (
        "single_expansion_stays_a_one_element_list",
        "*the consumer received [[]{'seen': ('only', 1)}[]] instead of [[]{'seen': {'only': 1}}[]]: a single expansion collapsed",
    ),
    "NeverPurges": (
        "retry_deletes_and_purges_the_failed_attempts_xcom",
        "*the first attempt's XCom 'staged': its object is still in storage after purge() *: purge() must delete what serialize_value stored",
    ),
    "MissingReturnsReference": (
        "missing_object_is_a_clear_error",
        "*a missing object silently comes back as its reference string 'mem://*': consumers would get a path instead of data; raise an error naming the missing object",
    ),
    "LargeReference": (
        "stored_reference_is_small",
        "*key '64 KiB' (64.0 KiB) leaves 65,6* bytes in the DB: store a short reference, not the value or a large envelope",
    ),
    "LosesUnicode": (
        "round_trip_of_every_json_type",
        "*key 'unicode': pushed *ünïcödé* (str), the consumer received *n?c?d?* (str)",
    ),
}


BROKEN = """
from pytest_xcom.contract import XComBackendContract

class TestBroken(XComBackendContract):
    backend = "broken_backends.{backend}"
"""


@BROKEN_BACKENDS_ARE_AIRFLOW3
@pytest.mark.parametrize("backend", sorted(FLAWS))
def test_contract_names_the_flaw_of_each_broken_backend(user_tests, pytester, monkeypatch, backend):
    check, message = FLAWS[backend]
    monkeypatch.syspath_prepend(str(pytester.path))
    pytester.copy_example("broken_backends.py")
    if backend == "NeverPurges" and TASK_LOOPS:
        # Airflow 3.4 keeps an earlier attempt's row and never purges it on a retry or a clear, so
        # a backend that never purges meets the retry check's rule there: no flaw to name.
        result = user_tests(BROKEN.format(backend=backend), "-k", check, "-v")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines([f"*::test_{check} PASSED*"])
        return
    result = user_tests(BROKEN.format(backend=backend), "-k", check)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E*AssertionError: XCom backend contract: *", f"E*backend 'broken_backends.{backend}' fails it:", "E" + message])


def test_a_fixed_known_flaw_is_reported(user_tests):
    result = user_tests(
        """
        from pytest_xcom.contract import XComBackendContract

        class TestDB(XComBackendContract):
            backend = "db"
            known_flaws = frozenset({"round_trip_of_every_json_type"})
        """,
        "-k",
        "round_trip",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*db now passes the check 'round_trip_of_every_json_type' listed in known_flaws: remove it from TestDB.known_flaws"])


def test_contract_without_a_backend_is_a_clear_error(user_tests):
    result = user_tests(
        """
        from pytest_xcom.contract import XComBackendContract

        class TestForgotIt(XComBackendContract):
            pass
        """,
        "-k",
        "round_trip_of_every",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*TestForgotIt inherits XComBackendContract but sets no backend: add backend = *"])



def _failure_sections(output: str) -> dict[str, str]:
    """Each failed test's report from the FAILURES section, by test name (``test_...``)."""
    found = re.search(r"^=+ FAILURES =+$(.*?)^=+ ", output, flags=re.MULTILINE | re.DOTALL)
    parts = re.split(r"^_{3,} \S+?\.(test_\w+) _{3,}$", found.group(1) if found else "", flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


CHECK_NAMES = sorted(name for name in dir(XComBackendContract) if name.startswith("test_"))
STORAGE_DOWN = r"^E\s+- task \w+ of DAG 'xcom_contract_\w+' failed: RuntimeError: storage is down$"
SKIPPED = r"^E\s+- DAG 'xcom_contract_\w+' ended 'success' with tasks that did not run: \w+ \(skipped\)"


@BROKEN_BACKENDS_ARE_AIRFLOW3
@pytest.mark.parametrize(
    ("backend", "known_flaws", "names_the_flaw"),
    [
        ("StorageDown", False, STORAGE_DOWN),
        ("SkipsEveryPush", False, SKIPPED),
        # Listing a check in known_flaws excuses what it finds, never that it could not look.
        ("StorageDown", True, STORAGE_DOWN),
    ],
    ids=["push-fails", "push-skips", "push-fails-known-flaws"],
)
def test_every_check_fails_when_no_push_succeeds(user_tests, pytester, monkeypatch, backend, known_flaws, names_the_flaw):
    """A check that observed nothing fails, naming why: it never passes, skips or xfails."""
    monkeypatch.syspath_prepend(str(pytester.path))
    pytester.copy_example("broken_backends.py")
    known = {name.removeprefix("test_") for name in CHECK_NAMES} if known_flaws else set()
    result = user_tests(
        f"""
        from pytest_xcom.contract import XComBackendContract

        class TestBroken(XComBackendContract):
            backend = "broken_backends.{backend}"
            known_flaws = frozenset({sorted(known)!r})
        """,
        "-v",
    )
    output = result.stdout.str()
    not_failed = re.findall(r"::TestBroken::(test_\w+) (PASSED|SKIPPED|XFAIL|XPASS)", output)
    assert not not_failed, f"checks that did not fail on a backend none of whose pushes succeeds: {not_failed}"
    result.assert_outcomes(failed=len(CHECK_NAMES))
    sections = _failure_sections(output)
    assert sorted(sections) == CHECK_NAMES
    for check, report in sections.items():
        assert "AssertionError: XCom backend contract: " in report, f"{check}:\n{report}"
        assert f"backend 'broken_backends.{backend}' fails it:" in report, f"{check}:\n{report}"
        assert re.search(names_the_flaw, report, flags=re.MULTILINE), f"{check} does not name what went wrong:\n{report}"


class _Replay:
    """A stand-in harness whose every run() returns the same record."""

    def __init__(self, run):
        self.recorded = run

    def run(self, dag, **kwargs):
        return self.recorded


def _round_trip_record(check_report):
    """A successful round-trip run; ``check_report``: (what the checking task returned, what the
    backend reads back for it), or None when the checking task pushed nothing."""
    from pytest_xcom.contract import dags
    from pytest_xcom.record import XComPush, XComRun

    def push(task_id, key, pushed, value):
        return XComPush(task_id=task_id, map_index=-1, key=key, value=value, pushed=pushed, size=1, stored=value, stored_size=1, offloaded=False, json_serializable=True)

    pushes = [push("push", key, value, value) for key, value in dags.JSON_CASES.items()]
    if check_report is not None:
        pushes.append(push("check", "return_value", *check_report))
    return XComRun(
        dag_id="xcom_contract_round_trip", run_id="manual", logical_date=None, state="success",
        task_states={"push": "success", "check": "success"}, failures={}, pushes=pushes, pulls=[], deletes=[],
        task_ids=("push", "check"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("check_report", "message"),
    [
        (None, "the checking task check of DAG 'xcom_contract_round_trip' ran but pushed no report: nothing was checked"),
        (("no verdict", "no verdict"), "the checking task check of DAG 'xcom_contract_round_trip' reported 'no verdict', not its findings"),
        # The backend reads the report back as {}: the verdict is what the task returned, not that.
        (({"string": {"repr": "'orders'", "type": "str"}}, {}), "key 'string': pushed 'orders.csv' (str), the consumer received 'orders' (str)"),
    ],
    ids=["no-report", "not-a-report", "report-emptied-on-read-back"],
)
def test_a_check_reads_what_its_checking_task_returned(check_report, message):
    """An empty report counts only when the checking task ran and returned it."""
    contract = type("TestReplayed", (XComBackendContract,), {"backend": "replayed"})()
    with pytest.raises(AssertionError) as failed:
        contract.test_round_trip_of_every_json_type(_Replay(_round_trip_record(check_report)))
    assert f"- {message}" in str(failed.value).splitlines()
