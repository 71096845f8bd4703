"""XCom snapshots: create, compare, readable mismatches, update, unused listing, xdist, dates."""

import json
import re
import textwrap

import pytest

FLOW_V1 = """
from airflow_compat import dag, task

@dag(schedule=None)
def flow():
    @task
    def extract():
        return ["a", "b"]

    @task
    def transform(row):
        return row.upper()

    @task
    def load(rows):
        return len(rows)

    rows = extract()
    transform.expand(row=rows)
    load(rows)

flow_dag = flow()
"""

# extract grows, transform expands once more, load returns a dict, audit reads extract too.
FLOW_V2 = """
from airflow_compat import dag, task

@dag(schedule=None)
def flow():
    @task
    def extract():
        return ["a", "b", "c"]

    @task
    def transform(row):
        return row.upper()

    @task
    def load(rows):
        return {"loaded": len(rows)}

    @task
    def audit(rows):
        return sorted(rows)

    rows = extract()
    transform.expand(row=rows)
    load(rows)
    audit(rows)

flow_dag = flow()
"""

TEST_FLOW = """
from flow_dag import flow_dag

def test_flow(xcom, xcom_snapshot):
    run = xcom.run(flow_dag)
    run.assert_succeeded()
    xcom_snapshot.assert_match(run)
"""

UPDATE = "--xcom-snapshot-update"
SECTION = "*= pytest-xcom snapshots =*"


def _snapshot(pytester, test_file="test_flow.json", module="test_user"):
    return pytester.path / "__xcom_snapshots__" / module / test_file


def _flow(pytester, source=FLOW_V1):
    pytester.makepyfile(flow_dag=source)


def test_missing_snapshot_fails_with_the_hint_then_update_writes_it(user_tests, pytester):
    _flow(pytester)
    result = user_tests(TEST_FLOW)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "E   *AssertionError: XCom snapshot '1' does not exist yet in __xcom_snapshots__/test_user/"
                "test_flow.json: run pytest with --xcom-snapshot-update to write it"
            ),
            SECTION,
            "1 XCom snapshot(s): 0 passed, 0 written, 0 updated, 1 failed",
        ]
    )
    assert not _snapshot(pytester).exists()

    result = user_tests(TEST_FLOW, UPDATE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([SECTION, "1 XCom snapshot(s): 0 passed, 1 written, 0 updated, 0 failed"])
    text = _snapshot(pytester).read_text()
    entries = json.loads(text)
    assert text == json.dumps(entries, indent=2, sort_keys=True) + "\n"  # pretty, sorted, newline
    assert list(entries) == ["1"]
    manifest = entries["1"]
    assert manifest["dag_id"] == "flow" and manifest["state"] == "success"
    assert manifest["tasks"] == {"extract": "success", "load": "success", "transform": ["success", "success"]}
    extract = manifest["xcoms"]["extract"]["-1"]["return_value"]
    assert extract["consumers"] == ["load", "transform[0]", "transform[1]"]
    assert extract["type"] == "list" and extract["value"] == '["a", "b"]' and extract["value_type"] == "list"
    assert extract["size"] == 10 and extract["offloaded"] is False
    assert manifest["manifest_version"] == 2 and manifest["written_by"]["airflow"][0].isdigit()
    assert manifest["expansions"] == {"transform": 2}
    assert manifest["pulls"]["load"] == [{"found": True, "key": "return_value", "source": "extract", "via": "argument"}]
    assert set(manifest["xcoms"]["transform"]) == {"0", "1"}

    result = user_tests(TEST_FLOW)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([SECTION, "1 XCom snapshot(s): 1 passed, 0 written, 0 updated, 0 failed"])
    result.stdout.no_fnmatch_line("*unused XCom snapshot*")


def test_entries_names_and_file_names(user_tests, pytester):
    _flow(pytester)
    source = """
        import pytest
        from flow_dag import flow_dag

        def test_entries(xcom, xcom_snapshot):
            xcom_snapshot.assert_match(xcom.run(flow_dag))
            xcom_snapshot.assert_match(xcom)                        # the fixture: its last run
            xcom_snapshot.assert_match(xcom.run(flow_dag), name="again")

        @pytest.mark.parametrize("where", ["eu/west 1", "plain"])
        def test_ids(xcom, xcom_snapshot, where):
            xcom_snapshot.assert_match(xcom.run(flow_dag))

        class TestGroup:
            def test_in_class(self, xcom, xcom_snapshot):
                xcom_snapshot.assert_match(xcom.run(flow_dag))

        def test_same_name_twice(xcom, xcom_snapshot):
            run = xcom.run(flow_dag)
            xcom_snapshot.assert_match(run, name="x")
            xcom_snapshot.assert_match(run, name="x")
        """
    result = user_tests(source, UPDATE)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        ["E   *ValueError: XCom snapshot 'x' was already asserted in this test: give each assert_match call*"]
    )
    folder = pytester.path / "__xcom_snapshots__" / "test_user"
    names = sorted(p.name for p in folder.iterdir())
    assert re.fullmatch(r"test_ids\[eu_west_1\]-[0-9a-f]{8}\.json", names.pop(2))  # made safe, kept unique
    assert names == ["TestGroup.test_in_class.json", "test_entries.json", "test_ids[plain].json",
                     "test_same_name_twice.json"]
    entries = json.loads((folder / "test_entries.json").read_text())
    assert sorted(entries) == ["1", "2", "again"]
    assert entries["1"] == entries["2"] == entries["again"]


def test_mismatch_names_each_change_then_shows_the_json_diff(user_tests, pytester):
    _flow(pytester)
    user_tests(TEST_FLOW, UPDATE).assert_outcomes(passed=1)
    _flow(pytester, FLOW_V2)
    result = user_tests(TEST_FLOW)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       xcom_snapshot.assert_match(run)",
            (
                "E       AssertionError: XCom snapshot '1' does not match "
                "__xcom_snapshots__/test_user/test_flow.json:"
            ),
            "E         task audit appeared ('success')",
            "E         task transform expanded 2 -> 3 times",
            """E         XCom audit 'return_value' appeared (list ["a", "b", "c"], read by nobody)""",
            """E         XCom extract 'return_value': value ["a", "b"] -> ["a", "b", "c"]; readers gained audit, transform[2]""",
            """E         XCom load 'return_value': pushed type int -> dict; value 2 -> {"loaded": 3}""",
            """E         XCom transform[2] 'return_value' appeared (str "C", read by nobody)""",
            "E         new read: audit reads extract 'return_value' (argument): found a value",
            "E         new read: transform[2] reads extract 'return_value' (argument): found a value",
            "E         storage only: XCom extract 'return_value': size 10 -> 15, stored_size 10 -> 15",
            "E         storage only: XCom load 'return_value': size 1 -> 13, stored_size 1 -> 13",
            "E       Run pytest with --xcom-snapshot-update to accept this run as the new snapshot.",
            "E       ",
            "E       --- snapshot '1'",
            "E       +++ this run",
            "E       @@ -* +* @@",
        ]
    )
    result.stdout.fnmatch_lines(['E       -          "size": 1,', 'E       +          "size": 13,'])
    result.stdout.fnmatch_lines(['E       +          "type": "dict",'])
    result.stdout.fnmatch_lines(
        [SECTION, "1 XCom snapshot(s): 0 passed, 0 written, 0 updated, 1 failed",
         "FAILED test_user.py::test_flow - AssertionError: XCom snapshot '1' does not*"]
    )
    assert "snapshot.py" not in result.stdout.str()  # the harness frames are hidden


def test_update_rewrites_a_changed_snapshot(user_tests, pytester):
    _flow(pytester)
    user_tests(TEST_FLOW, UPDATE).assert_outcomes(passed=1)
    before = json.loads(_snapshot(pytester).read_text())
    _flow(pytester, FLOW_V2)
    pytester.makeini("[pytest]\nxcom_snapshot_update = true\n")  # the ini twin
    result = user_tests(TEST_FLOW)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([SECTION, "1 XCom snapshot(s): 0 passed, 0 written, 1 updated, 0 failed"])
    after = json.loads(_snapshot(pytester).read_text())
    assert after != before and "audit" in after["1"]["tasks"]
    (pytester.path / "tox.ini").unlink()
    user_tests(TEST_FLOW).assert_outcomes(passed=1)


def test_bad_update_value_is_a_usage_error(user_tests):
    result = user_tests("def test_x():\n    pass\n", "-o", "xcom_snapshot_update=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --xcom-snapshot-update / xcom_snapshot_update must be true or false, not 'sometimes'"]
    )


TWO_TESTS = """
from flow_dag import flow_dag

def test_one(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))
    xcom_snapshot.assert_match(xcom, name="extra")

def test_two(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))
"""

ONE_TEST = """
from flow_dag import flow_dag

def test_one(xcom, xcom_snapshot):
    xcom_snapshot.assert_match(xcom.run(flow_dag))
"""


def test_unused_snapshots_are_listed_then_deleted_with_update(user_tests, pytester):
    _flow(pytester)
    user_tests(TWO_TESTS, UPDATE).assert_outcomes(passed=2)
    orphan = _snapshot(pytester, "test_x.json", module="test_removed_module")
    orphan.parent.mkdir()
    orphan.write_text("{}\n")

    result = user_tests(ONE_TEST)  # test_two is gone, test_one no longer asserts 'extra'
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            "1 XCom snapshot(s): 1 passed, 0 written, 0 updated, 0 failed",
            (
                "3 unused XCom snapshot(s) (their tests are gone or no longer assert them); "
                "run pytest with --xcom-snapshot-update to delete them:"
            ),
            "  __xcom_snapshots__/test_removed_module/test_x.json",
            "  __xcom_snapshots__/test_user/test_one.json :: 'extra'",
            "  __xcom_snapshots__/test_user/test_two.json",
        ]
    )
    assert orphan.exists() and _snapshot(pytester, "test_two.json").exists()

    result = user_tests(ONE_TEST, UPDATE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "1 XCom snapshot(s): 1 passed, 0 written, 0 updated, 0 failed",
            "3 unused XCom snapshot(s) deleted:",
            "  __xcom_snapshots__/test_removed_module/test_x.json",
            "  __xcom_snapshots__/test_user/test_one.json :: 'extra'",
            "  __xcom_snapshots__/test_user/test_two.json",
        ]
    )
    assert not orphan.parent.exists() and not _snapshot(pytester, "test_two.json").exists()
    assert list(json.loads(_snapshot(pytester, "test_one.json").read_text())) == ["1"]

    result = user_tests(ONE_TEST)
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*unused XCom snapshot*")


def test_deselected_tests_keep_their_snapshots(user_tests, pytester):
    _flow(pytester)
    user_tests(TWO_TESTS, UPDATE).assert_outcomes(passed=2)
    gone = _snapshot(pytester, "test_gone.json")
    gone.write_text("{}\n")

    # -k deselects: no file is judged (not even test_gone, whose test does not exist), with or
    # without update; only the selected test's own entries are.
    result = user_tests(TWO_TESTS, "-k", "one", UPDATE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["2 XCom snapshot(s): 2 passed, 0 written, 0 updated, 0 failed",
         "Unused XCom snapshot files not looked for: 1 test(s) deselected (-k, -m, --deselect...); none deleted."]
    )
    result.stdout.no_fnmatch_line("*unused XCom snapshot*")
    assert gone.exists() and _snapshot(pytester, "test_two.json").exists()

    # A node id narrows collection itself: nothing in that module is judged, even with update.
    result = user_tests(TWO_TESTS, "test_user.py::test_one", UPDATE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["2 XCom snapshot(s): 2 passed, 0 written, 0 updated, 0 failed"])
    result.stdout.no_fnmatch_line("*unused XCom snapshot*")
    assert gone.exists() and _snapshot(pytester, "test_two.json").exists()


def test_failed_test_keeps_entries_it_did_not_reach(user_tests, pytester):
    _flow(pytester)
    user_tests(TWO_TESTS, UPDATE).assert_outcomes(passed=2)
    result = user_tests(
        """
        from flow_dag import flow_dag

        def test_one(xcom, xcom_snapshot):
            xcom_snapshot.assert_match(xcom.run(flow_dag))
            assert False, "stopped before the 'extra' snapshot"

        def test_two(xcom, xcom_snapshot):
            xcom_snapshot.assert_match(xcom.run(flow_dag))
        """,
        UPDATE,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.no_fnmatch_line("*unused XCom snapshot*")
    assert sorted(json.loads(_snapshot(pytester, "test_one.json").read_text())) == ["1", "extra"]


def test_xdist_workers_write_and_the_controller_reports(user_tests, pytester):
    _flow(pytester)
    folder = pytester.path / "__xcom_snapshots__" / "test_user"
    folder.mkdir(parents=True)
    (folder / "test_gone.json").write_text("{}\n")  # found by both workers, deleted by the controller
    (folder / "test_flow[0].json").write_text('{"stale": {}}\n')  # an entry a worker drops
    result = user_tests(
        """
        import pytest
        from flow_dag import flow_dag

        @pytest.mark.parametrize("n", range(4))
        def test_flow(xcom, xcom_snapshot, n):
            xcom_snapshot.assert_match(xcom.run(flow_dag))
        """,
        "-n",
        "2",
        UPDATE,
        subprocess=True,
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            "4 XCom snapshot(s): 0 passed, 4 written, 0 updated, 0 failed",
            "2 unused XCom snapshot(s) deleted:",
            "  __xcom_snapshots__/test_user/test_flow[[]0].json :: 'stale'",
            "  __xcom_snapshots__/test_user/test_gone.json",
        ]
    )
    assert result.stdout.str().count("test_gone.json") == 1
    assert sorted(p.name for p in folder.iterdir()) == [f"test_flow[{n}].json" for n in range(4)]
    assert list(json.loads((folder / "test_flow[0].json").read_text())) == ["1"]


def test_snapshots_do_not_depend_on_the_logical_date(user_tests, pytester):
    _flow(pytester)
    source = textwrap.dedent(
        """
        from pathlib import Path
        from flow_dag import flow_dag

        def test_dates(xcom, xcom_snapshot):
            run = xcom.run(flow_dag, logical_date={date!r})
            xcom_snapshot.assert_match(run)
            text = (Path(__file__).parent / "__xcom_snapshots__/test_user/test_dates.json").read_text()
            assert run.run_id not in text and str(run.logical_date.date()) not in text
        """
    )
    user_tests(source.format(date="2026-01-01"), UPDATE).assert_outcomes(passed=1)
    written = _snapshot(pytester, "test_dates.json").read_text()
    result = user_tests(source.format(date="2031-07-15T06:30:00+00:00"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 XCom snapshot(s): 1 passed, 0 written, 0 updated, 0 failed"])
    assert _snapshot(pytester, "test_dates.json").read_text() == written
    for run_specific in ("manual__", "2026-", "2031-", "T00:00", "T06:30"):
        assert run_specific not in written
