"""Snapshots are only deleted on evidence from this session, and bad snapshot paths fail clearly.

A snapshot file or entry may only be judged unused (listed; deleted with the update flag) when its
module was collected in full and its tests ran in this session without asserting it. Skipped or
erroring modules, -k, -m, --deselect, --lf, -x and partial xdist runs never delete anything.
Manifests here are plain dicts (``assert_match`` takes one), so no DAG has to run.
"""

import json
import os
import textwrap
from pathlib import Path

import pytest

UPDATE = "--xcom-snapshot-update"
SECTION = "*= pytest-xcom snapshots =*"
PLAIN = ("-p", "no:randomly", "-p", "no:cacheprovider")

ASSERTING = """
def test_one(xcom_snapshot):
    xcom_snapshot.assert_match({"value": 1})

def test_two(xcom_snapshot):
    xcom_snapshot.assert_match({"value": 2})

@pytest.mark.slow
def test_three(xcom_snapshot):
    xcom_snapshot.assert_match({"value": 3})
"""


def _file(pytester, module, test):
    return pytester.path / "__xcom_snapshots__" / module / f"{test}.json"


def _put(pytester, module, test, entries):
    path = _file(pytester, module, test)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    return path


def _module(pytester, name, source):
    pytester.makepyfile(**{name: "import pytest\n" + textwrap.dedent(source)})


def _run(pytester, *args, cache=False):
    plain = PLAIN if not cache else ("-p", "no:randomly")
    return pytester.runpytest(*plain, *args)


def _snapshots(pytester):
    root = pytester.path / "__xcom_snapshots__"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _user_module(pytester):
    """test_user.py with three tests, their snapshots, and an orphan (test_gone.json)."""
    _module(pytester, "test_user", ASSERTING)
    for number, name in enumerate(("test_one", "test_two", "test_three"), start=1):
        _put(pytester, "test_user", name, {"1": {"value": number}})
    _put(pytester, "test_user", "test_gone", {"1": {"value": 0}})


def _nothing_deleted(result):
    result.stdout.no_fnmatch_line("*deleted:*")
    result.stdout.no_fnmatch_line("*unused XCom snapshot(s)*")


SKIPPED_MODULES = {
    "module-level-skip": 'pytest.skip("needs the warehouse", allow_module_level=True)\n',
    "importorskip": 'pytest.importorskip("no_such_module_for_pytest_xcom")\n',
}


@pytest.mark.parametrize("how", sorted(SKIPPED_MODULES))
def test_a_module_skipped_at_collection_keeps_its_snapshots(pytester, how):
    _module(pytester, "test_skipped", SKIPPED_MODULES[how] + ASSERTING)
    kept = [_put(pytester, "test_skipped", name, {"1": {"value": 1}}) for name in ("test_one", "test_gone")]
    _module(pytester, "test_ok", "def test_ok(xcom_snapshot):\n    xcom_snapshot.assert_match({'ok': True})\n")
    _put(pytester, "test_ok", "test_ok", {"1": {"ok": True}})

    result = _run(pytester, UPDATE)
    result.assert_outcomes(passed=1, skipped=1)
    assert all(path.exists() for path in kept)
    _nothing_deleted(result)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            "1 XCom snapshot(s): 1 passed, 0 written, 0 updated, 0 failed",
            "Unused XCom snapshot files not looked for in __xcom_snapshots__/test_skipped: "
            "test_skipped.py was skipped at collection; none deleted there.",
        ]
    )

    result = _run(pytester)  # without the flag, the same rule decides what is listed
    result.assert_outcomes(passed=1, skipped=1)
    _nothing_deleted(result)


@pytest.mark.parametrize("continue_on_errors", [False, True])
def test_a_module_that_fails_to_collect_keeps_its_snapshots(pytester, continue_on_errors):
    _module(pytester, "test_broken", "raise RuntimeError('broken at import')\n" + ASSERTING)
    kept = [_put(pytester, "test_broken", name, {"1": {"value": 1}}) for name in ("test_one", "test_gone")]
    _module(pytester, "test_ok", "def test_ok(xcom_snapshot):\n    xcom_snapshot.assert_match({'ok': True})\n")
    _put(pytester, "test_ok", "test_ok", {"1": {"ok": True}})
    _put(pytester, "test_ok", "test_orphan", {"1": {"ok": False}})

    args = ("--continue-on-collection-errors",) if continue_on_errors else ()
    result = _run(pytester, UPDATE, *args)
    result.assert_outcomes(passed=1 if continue_on_errors else 0, errors=1)
    assert all(path.exists() for path in kept)
    if continue_on_errors:  # the module that was collected and ran in full is still judged
        result.stdout.fnmatch_lines(
            [
                "1 unused XCom snapshot(s) deleted:",
                "  __xcom_snapshots__/test_ok/test_orphan.json",
                "Unused XCom snapshot files not looked for in __xcom_snapshots__/test_broken: "
                "test_broken.py failed to collect; none deleted there.",
            ]
        )
        assert not _file(pytester, "test_ok", "test_orphan").exists()
    else:  # an interrupted session judges nothing
        _nothing_deleted(result)
        assert _file(pytester, "test_ok", "test_orphan").exists()


@pytest.mark.parametrize(
    "narrowing",
    [("-k", "one"), ("-m", "not slow"), ("--deselect", "test_user.py::test_two")],
    ids=["-k", "-m", "--deselect"],
)
def test_deselecting_tests_never_deletes_a_file(pytester, narrowing):
    _user_module(pytester)
    before = _snapshots(pytester)
    result = _run(pytester, UPDATE, *narrowing)
    assert result.ret == 0
    assert _snapshots(pytester) == before  # test_gone.json too: this session did not run test_user.py in full
    _nothing_deleted(result)
    result.stdout.fnmatch_lines(
        ["Unused XCom snapshot files not looked for: * test(s) deselected (-k, -m, --deselect...); none deleted."]
    )

    result = _run(pytester, *narrowing)  # nor is anything listed as unused
    _nothing_deleted(result)


def test_a_node_id_narrows_its_module(pytester):
    _user_module(pytester)
    before = _snapshots(pytester)
    result = _run(pytester, UPDATE, "test_user.py::test_one")
    result.assert_outcomes(passed=1)
    assert _snapshots(pytester) == before
    _nothing_deleted(result)
    result.stdout.fnmatch_lines(
        [
            "Unused XCom snapshot files not looked for in __xcom_snapshots__/test_user: "
            "a node id narrowed its collection; none deleted there."
        ]
    )


def test_last_failed_never_deletes(pytester):
    _user_module(pytester)
    _module(pytester, "test_fails", "def test_fails():\n    assert False\n")
    _run(pytester, cache=True).assert_outcomes(passed=3, failed=1)
    before = _snapshots(pytester)
    result = _run(pytester, UPDATE, "--lf", cache=True)
    result.assert_outcomes(failed=1)
    assert _snapshots(pytester) == before
    _nothing_deleted(result)
    result.stdout.fnmatch_lines(["Unused XCom snapshot files not looked for: --lf runs only some tests; none deleted."])


def test_a_session_stopped_early_never_deletes_a_file(pytester):
    _module(pytester, "test_a_first", "def test_fails():\n    assert False\n")
    _user_module(pytester)
    before = _snapshots(pytester)
    result = _run(pytester, UPDATE, "-x")
    result.assert_outcomes(failed=1)
    assert _snapshots(pytester) == before
    _nothing_deleted(result)
    result.stdout.fnmatch_lines(
        ["Unused XCom snapshot files kept: 3 selected test(s) did not run (-x, --maxfail, a crash...); none deleted."]
    )


def test_a_module_with_test_disabled_keeps_its_snapshots(pytester):
    _module(pytester, "test_user", "__test__ = False\n" + ASSERTING)
    _put(pytester, "test_user", "test_one", {"1": {"value": 1}})
    _module(pytester, "test_ok", "def test_ok():\n    pass\n")
    result = _run(pytester, UPDATE)
    result.assert_outcomes(passed=1)
    assert _file(pytester, "test_user", "test_one").exists()
    _nothing_deleted(result)


def test_what_ran_in_full_is_still_judged_and_deleted(pytester):
    """The positive case: unused entries of tests that ran and passed, and orphans of a full run."""
    _user_module(pytester)
    _put(pytester, "test_user", "test_one", {"1": {"value": 1}, "old": {"value": -1}})
    _put(pytester, "test_removed_module", "test_x", {"1": {}})

    result = _run(pytester)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "3 unused XCom snapshot(s) (their tests are gone or no longer assert them); "
            "run pytest with --xcom-snapshot-update to delete them:",
            "  __xcom_snapshots__/test_removed_module/test_x.json",
            "  __xcom_snapshots__/test_user/test_gone.json",
            "  __xcom_snapshots__/test_user/test_one.json :: 'old'",
        ]
    )
    result = _run(pytester, UPDATE)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["3 unused XCom snapshot(s) deleted:"])
    result.stdout.no_fnmatch_line("*not looked for*")
    assert _snapshots(pytester) == ["test_user/test_one.json", "test_user/test_three.json", "test_user/test_two.json"]
    assert list(json.loads(_file(pytester, "test_user", "test_one").read_text())) == ["1"]


def test_entries_of_a_test_that_ran_are_judged_under_k_too(pytester):
    """-k keeps every file, but a selected test that passed without asserting an entry judged it."""
    _user_module(pytester)
    _put(pytester, "test_user", "test_one", {"1": {"value": 1}, "old": {"value": -1}})
    result = _run(pytester, UPDATE, "-k", "one")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 unused XCom snapshot(s) deleted:", "  __xcom_snapshots__/test_user/test_one.json :: 'old'"])
    assert _file(pytester, "test_user", "test_gone").exists()
    assert list(json.loads(_file(pytester, "test_user", "test_one").read_text())) == ["1"]


def test_a_gone_module_is_only_judged_when_its_folder_was_named(pytester):
    _user_module(pytester)
    gone = _put(pytester, "test_removed_module", "test_x", {"1": {}})
    result = _run(pytester, UPDATE, "test_user.py")  # the folder is not named as a whole
    result.assert_outcomes(passed=3)
    assert gone.exists()
    result.stdout.fnmatch_lines(["1 unused XCom snapshot(s) deleted:", "  __xcom_snapshots__/test_user/test_gone.json"])
    result.stdout.fnmatch_lines(["*not looked for in __xcom_snapshots__/test_removed_module: its module*is gone*"])


def test_a_module_with_another_suffix_is_not_gone(pytester):
    """`__xcom_snapshots__/<stem>/` belongs to any file <stem>.*, not only <stem>.py."""
    _module(pytester, "test_ok", "def test_ok():\n    pass\n")
    (pytester.path / "test_flows.yaml").write_text("flows: []\n")
    (pytester.path / "check_v2.flows.py").write_text("VALUE = 1\n")  # not collected: not a test_*.py name
    kept = [_put(pytester, "test_flows", "test_x", {"1": {}}), _put(pytester, "check_v2.flows", "test_x", {"1": {}})]
    result = _run(pytester, UPDATE)
    result.assert_outcomes(passed=1)
    assert all(path.exists() for path in kept)
    _nothing_deleted(result)


def test_a_directory_that_looks_like_an_unused_file_is_never_deleted(pytester):
    _module(pytester, "test_ok", "def test_ok():\n    pass\n")
    folder = _file(pytester, "test_ok", "test_gone")
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine\n")
    result = _run(pytester, UPDATE)
    result.assert_outcomes(passed=1)
    assert (folder / "notes.txt").read_text() == "mine\n"
    _nothing_deleted(result)


def test_an_unused_file_that_turned_into_a_directory_is_reported_not_deleted(pytester):
    _module(pytester, "test_ok", "def test_ok():\n    pass\n")
    gone = _put(pytester, "test_ok", "test_gone", {"1": {}})
    _module(
        pytester,
        "test_z",
        f"""
        def test_replaces_the_file_with_a_directory():
            import os
            os.remove({str(gone)!r})
            os.makedirs({str(gone)!r})
        """,
    )
    result = _run(pytester, UPDATE)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            "ERROR: unused XCom snapshot file not deleted: __xcom_snapshots__/test_ok/test_gone.json is a directory, "
            "not a snapshot file",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    assert gone.is_dir()


def _xdist_project(pytester):
    _module(pytester, "test_skipped", SKIPPED_MODULES["module-level-skip"] + ASSERTING)
    _put(pytester, "test_skipped", "test_one", {"1": {"value": 1}})
    _module(
        pytester,
        "test_user",
        """
        @pytest.mark.parametrize("n", range(4))
        def test_flow(xcom_snapshot, n):
            xcom_snapshot.assert_match({"n": n})
        """,
    )
    for n in range(4):
        _put(pytester, "test_user", f"test_flow[{n}]", {"1": {"n": n}})
    _put(pytester, "test_user", "test_gone", {"1": {}})


def test_xdist_partial_runs_never_delete(pytester, monkeypatch):
    """Every worker collects every test; the controller deletes only what tests that ran judged."""
    tests_dir = str(Path(__file__).parent)  # loopback_guard: no test reaches beyond loopback
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")])))
    _xdist_project(pytester)
    before = _snapshots(pytester)
    args = ("-p", "loopback_guard", *PLAIN, "-n", "2", UPDATE)

    result = pytester.runpytest_subprocess(*args, "-k", "test_flow and (0 or 1)")
    result.assert_outcomes(passed=2, skipped=1)
    assert _snapshots(pytester) == before
    _nothing_deleted(result)
    result.stdout.fnmatch_lines(["*not looked for: 2 test(s) deselected*none deleted."])

    result = pytester.runpytest_subprocess(*args)  # in full: the orphan goes, the skipped module stays
    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            "4 XCom snapshot(s): 4 passed, 0 written, 0 updated, 0 failed",
            "1 unused XCom snapshot(s) deleted:",
            "  __xcom_snapshots__/test_user/test_gone.json",
            "*not looked for in __xcom_snapshots__/test_skipped: test_skipped.py was skipped at collection*",
        ]
    )
    assert _snapshots(pytester) == [p for p in before if p != "test_user/test_gone.json"]


# A snapshot path that cannot be a snapshot file: a clear failure, counted in the summary.

TEST_FLOW = "def test_flow(xcom_snapshot):\n    xcom_snapshot.assert_match({'value': 1})\n"


@pytest.mark.bad_input("snapshot-path-is-a-directory")
def test_a_directory_at_the_snapshot_path_fails_clearly_and_is_never_replaced(pytester):
    _module(pytester, "test_user", TEST_FLOW)
    folder = _file(pytester, "test_user", "test_flow")
    folder.mkdir(parents=True)
    (folder / "mine.txt").write_text("keep me\n")

    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: XCom snapshot path __xcom_snapshots__/test_user/test_flow.json is a directory, "
            "not a snapshot file: move or remove it, then run pytest with --xcom-snapshot-update to write the snapshot",
            SECTION,
            "1 XCom snapshot(s): 0 passed, 0 written, 0 updated, 1 failed",
        ]
    )
    result.stdout.no_fnmatch_line("*IsADirectoryError*")

    result = _run(pytester, UPDATE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: XCom snapshot path __xcom_snapshots__/test_user/test_flow.json is a directory, "
            "not a snapshot file: --xcom-snapshot-update does not replace or delete a directory: "
            "move or remove it yourself, then run again",
            SECTION,
            "1 XCom snapshot(s): 0 passed, 0 written, 0 updated, 1 failed",
        ]
    )
    assert (folder / "mine.txt").read_text() == "keep me\n"


@pytest.mark.bad_input("snapshot-file-not-utf8")
def test_a_snapshot_file_that_is_not_utf8_fails_clearly_and_update_rewrites_it(pytester):
    _module(pytester, "test_user", TEST_FLOW)
    path = _file(pytester, "test_user", "test_flow")
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"1": "\xff\xfe"}\n')

    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: cannot read XCom snapshot file: __xcom_snapshots__/test_user/test_flow.json is not "
            "valid UTF-8 (byte 0xff at offset 7); fix it, or run pytest with --xcom-snapshot-update to rewrite it "
            "(its unreadable entries are then lost)",
            SECTION,
            "1 XCom snapshot(s): 0 passed, 0 written, 0 updated, 1 failed",
        ]
    )
    result.stdout.no_fnmatch_line("*UnicodeDecodeError*")

    result = _run(pytester, UPDATE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            SECTION,
            "1 XCom snapshot(s): 0 passed, 1 written, 0 updated, 0 failed",
            "1 unreadable XCom snapshot file(s) rewritten from scratch:",
            "  __xcom_snapshots__/test_user/test_flow.json",
        ]
    )
    assert json.loads(path.read_text(encoding="utf-8")) == {"1": {"value": 1}}

    _run(pytester).assert_outcomes(passed=1)
