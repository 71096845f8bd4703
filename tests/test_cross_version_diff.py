"""``pytest-xcom diff OLD NEW``: what the DAG sees apart from storage, exit codes, bad input, --html.

The Airflow 2 side is a hand-made snapshot (tests/snapshot_fixtures/airflow-2.11), as Airflow 2
writes it for example_dags/token_handoff.py: there ``call_api``'s ``xcom_pull(key="token")``
without task_ids finds ``issue_token``'s token. The Airflow 3 side is the example suite's own
snapshot, written on Airflow 3, where the same read finds nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_xcom.cli import main
from pytest_xcom.snapshots.files import dumps

ROOT = Path(__file__).parent.parent
AIRFLOW_2 = ROOT / "tests" / "snapshot_fixtures" / "airflow-2.11"
AIRFLOW_3 = ROOT / "example_dags" / "tests" / "__xcom_snapshots__"
TOKEN_FILE = Path("test_token_handoff") / "test_token_handoff_traffic.json"
TOKEN_READ = (
    "    call_api: xcom_pull(key='token') without task_ids: found a value (in issue_token) -> "
    "found nothing (looked in call_api)"
)


def _diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["diff", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _entry(path: Path, name: str = "1") -> dict:
    return json.loads(path.read_text(encoding="utf-8"))[name]


def _write(path: Path, entries: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(entries), encoding="utf-8")
    return path


def test_the_airflow_2_and_3_snapshots_of_the_token_dag_differ_in_the_read_and_exit_1(capsys):
    code, out, err = _diff(capsys, AIRFLOW_2, AIRFLOW_3)
    assert code == 1, f"a read that found a value and now finds none must fail the diff; got exit {code}:\n{out}{err}"
    lines = out.splitlines()
    assert lines[:3] == [
        "pytest-xcom diff",
        f"  old: {AIRFLOW_2} (1 snapshot entry in 1 file(s); Airflow {_written_by(AIRFLOW_2)})",
        f"  new: {AIRFLOW_3} ({_count(AIRFLOW_3)} in {_files(AIRFLOW_3)} file(s); Airflow {_airflow_3()})",
    ], "the header must name both sides and the Airflow that wrote each"
    block = _block(lines, f"{TOKEN_FILE.as_posix()} :: '1' (DAG token_handoff):")
    assert block == [
        "  what the DAG sees:",
        """    XCom call_api 'return_value': value {"Authorization": "Bearer tok-2026-demo"} -> {}""",
        "    XCom issue_token 'token': readers lost call_api",
        TOKEN_READ,
        "  storage only:",
        "    XCom call_api 'return_value': size 41 -> 2, stored_size 41 -> 2",
    ], f"the token DAG's changes, DAG-visible first and storage apart, were:\n{out}"
    assert "1 snapshot entry changed in what the DAG sees, 0 only in storage" in lines[-1], lines[-1]
    assert err == ""


def _block(lines: list[str], title: str) -> list[str]:
    assert title in lines, f"no section {title!r} in the output:\n" + "\n".join(lines)
    rest = lines[lines.index(title) + 1 :]
    return rest[: rest.index("")] if "" in rest else rest


def _count(root: Path) -> str:
    n = sum(len(json.loads(p.read_text())) for p in root.rglob("*.json"))
    return f"{n} snapshot entr{'y' if n == 1 else 'ies'}"


def _files(root: Path) -> int:
    return len(list(root.rglob("*.json")))


def _written_by(root: Path) -> str:
    return ", ".join(sorted({m["written_by"]["airflow"] for p in root.rglob("*.json")
                             for m in json.loads(p.read_text()).values()}))


def _airflow_3() -> str:
    return _written_by(AIRFLOW_3)


def test_two_identical_directories_exit_0(capsys, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(AIRFLOW_3, copy)
    code, out, _ = _diff(capsys, AIRFLOW_3, copy)
    assert code == 0, f"identical snapshots must diff clean; got exit {code}:\n{out}"
    n = _count(AIRFLOW_3).split()[0]
    assert out.splitlines()[-1] == (
        f"0 snapshot entries changed in what the DAG sees, 0 only in storage, {n} unchanged; 0 only in old, 0 only in new"
    )
    assert "what the DAG sees:" not in out and "storage only:" not in out


def test_storage_only_changes_are_listed_apart_and_exit_0(capsys, tmp_path):
    old = _write(tmp_path / "old" / TOKEN_FILE, {"1": _entry(AIRFLOW_3 / TOKEN_FILE)})
    entry = _entry(AIRFLOW_3 / TOKEN_FILE)
    entry["written_by"]["airflow"] = "9.9.9"  # another release, another wrapping: sizes moved, values did not
    storage = entry["xcoms"]["issue_token"]["-1"]["token"]
    storage.update(size=storage["size"] + 30, stored_size=storage["stored_size"] + 30, sha256="0" * 64)
    _write(tmp_path / "new" / TOKEN_FILE, {"1": entry})
    code, out, _ = _diff(capsys, old.parents[1], tmp_path / "new")
    assert code == 0, f"a storage-only change must not fail the diff; got exit {code}:\n{out}"
    size = storage["size"]
    assert _block(out.splitlines(), f"{TOKEN_FILE.as_posix()} :: '1' (DAG token_handoff):") == [
        "  storage only:",
        f"    XCom issue_token 'token': size {size - 30} -> {size}, stored_size {size - 30} -> {size}, "
        "serialized form changed (sha256 differs)",
    ], out
    assert "Airflow 9.9.9" in out.splitlines()[2], "the new side's header must show the Airflow that wrote it"
    assert "0 snapshot entries changed in what the DAG sees, 1 only in storage" in out


def test_tests_and_entries_on_one_side_only_are_listed(capsys, tmp_path):
    token = {"1": _entry(AIRFLOW_3 / TOKEN_FILE)}
    _write(tmp_path / "old" / TOKEN_FILE, token)
    _write(tmp_path / "old" / "test_gone" / "test_removed.json", token)
    _write(tmp_path / "new" / TOKEN_FILE, {**token, "full": token["1"]})
    code, out, _ = _diff(capsys, tmp_path / "old", tmp_path / "new")
    assert code == 0, f"nothing the DAG sees changed in the entries on both sides; got exit {code}:\n{out}"
    lines = out.splitlines()
    assert _block(lines, "Only in old (1):") == ["  test_gone/test_removed.json :: '1'"], out
    assert _block(lines, "Only in new (1):") == [f"  {TOKEN_FILE.as_posix()} :: 'full'"], out
    assert lines[-1].endswith("1 unchanged; 1 only in old, 1 only in new"), lines[-1]


def test_two_files_pair_entry_by_entry(capsys, tmp_path):
    old = _write(tmp_path / "a.json", {"1": _entry(AIRFLOW_2 / TOKEN_FILE)})
    new = _write(tmp_path / "b.json", {"1": _entry(AIRFLOW_3 / TOKEN_FILE)})
    code, out, _ = _diff(capsys, old, new)
    assert code == 1, out
    assert TOKEN_READ in out.splitlines(), out
    assert "'1' (DAG token_handoff):" in out.splitlines(), out


def test_a_v1_snapshot_is_compared_on_what_v1_records(capsys, tmp_path):
    entry = _entry(AIRFLOW_3 / TOKEN_FILE)
    v1 = {k: v for k, v in entry.items() if k not in ("written_by", "pulls", "expansions")}
    v1["manifest_version"] = 1
    for by_index in v1["xcoms"].values():
        for by_key in by_index.values():
            for key, fields in list(by_key.items()):
                by_key[key] = {k: fields[k] for k in ("type", "consumers", "size", "stored_size", "offloaded", "sha256")}
    old = _write(tmp_path / "old" / TOKEN_FILE, {"1": v1})
    code, out, _ = _diff(capsys, old.parents[1], AIRFLOW_3)
    assert code == 0, f"a v1 snapshot of the same traffic must diff clean on the fields it has; got {code}:\n{out}"
    assert "Airflow unknown (manifest v1)" in out.splitlines()[1], out

    v1["xcoms"]["call_api"]["-1"]["return_value"]["sha256"] = "0" * 64  # v1's only fingerprint of a value
    _write(old, {"1": v1})
    code, out, _ = _diff(capsys, old.parents[1], AIRFLOW_3)
    assert code == 1, out
    assert "  note: old side is manifest v1 (an older pytest-xcom): compared on what v1 records (no values, no pulls)" in out
    assert (
        "    XCom call_api 'return_value': value changed (the hash of its serialized form differs; "
        "a v1 snapshot keeps no value)"
    ) in out.splitlines(), out


@pytest.mark.bad_input("diff-of-something-else")
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "pytest-xcom diff: {old} does not exist: give a snapshot directory (e.g. tests/__xcom_snapshots__) or file"),
        ("not json", "pytest-xcom diff: {old}/test_x/test_y.json is not JSON (Expecting value: line 1 column 1 (char 0))"),
        ("not entries", "pytest-xcom diff: {old}/test_x/test_y.json is not a JSON object of snapshot entries"),
        ("no manifest", "pytest-xcom diff: {old}/test_x/test_y.json: entry '1' is not an XCom snapshot entry (no manifest_version)"),
        ("newer", "pytest-xcom diff: {old}/test_x/test_y.json: entry '1' is manifest v7, written by a newer pytest-xcom: upgrade pytest-xcom to read it"),
        ("empty dir", "pytest-xcom diff: {old} holds no snapshot files (*.json): is it the right directory?"),
        ("file and dir", "pytest-xcom diff: OLD and NEW must both be directories or both be files ({old} is a file, {new} is a directory)"),
    ],
)
def test_bad_input_says_what_is_wrong_and_exits_2(capsys, tmp_path, case, expected):
    old, new = tmp_path / "old", AIRFLOW_3
    snapshot = old / "test_x" / "test_y.json"
    if case == "not json":
        snapshot.parent.mkdir(parents=True)
        snapshot.write_text("not json\n")
    elif case == "not entries":
        snapshot.parent.mkdir(parents=True)
        snapshot.write_text("[1, 2]\n")
    elif case == "no manifest":
        _write(snapshot, {"1": {"dag_id": "x"}})
    elif case == "newer":
        _write(snapshot, {"1": {**_entry(AIRFLOW_3 / TOKEN_FILE), "manifest_version": 7}})
    elif case == "empty dir":
        old.mkdir()
    elif case == "file and dir":
        old = _write(tmp_path / "old.json", {"1": _entry(AIRFLOW_3 / TOKEN_FILE)})
    code, out, err = _diff(capsys, old, new)
    assert code == 2, f"{case}: bad input must exit 2, got {code}:\n{out}{err}"
    assert err.strip() == expected.format(old=old, new=new), f"{case}: stderr was {err!r}"
    assert out == "", f"{case}: nothing is printed on stdout for bad input"


def test_html_writes_the_same_diff_as_a_self_contained_page(capsys, tmp_path):
    page = tmp_path / "out" / "diff.html"
    code, out, _ = _diff(capsys, AIRFLOW_2, AIRFLOW_3, "--html", page)
    assert code == 1, out
    assert out.splitlines()[-1] == f"HTML diff written to {page}", out.splitlines()[-1]
    html = page.read_text(encoding="utf-8")
    assert _written_by(AIRFLOW_2) in html and _airflow_3() in html, "the page must show both sides' Airflow versions"
    assert "found a value (in issue_token) -&gt; found nothing (looked in call_api)" in html
    assert "What the DAG sees" in html and "Storage only" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html, "the page must load nothing"


def test_html_into_a_directory_is_bad_input(capsys, tmp_path):
    code, out, err = _diff(capsys, AIRFLOW_2, AIRFLOW_3, "--html", tmp_path)
    assert (code, out) == (2, ""), f"got exit {code}: {out}"
    assert err.strip() == f"pytest-xcom diff: --html {tmp_path}: is a directory; name a file, e.g. --html xcom-report.html"


def test_the_command_line_tool_runs_the_diff_in_a_subprocess(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "pytest_xcom.cli", "diff"]
    done = subprocess.run([*command, AIRFLOW_2, AIRFLOW_3], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert TOKEN_READ in done.stdout.splitlines(), done.stdout
    done = subprocess.run([*command, AIRFLOW_3, AIRFLOW_3], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([*command, tmp_path / "nope", AIRFLOW_3], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "does not exist" in done.stderr, done.stdout + done.stderr


def test_the_docs_show_the_real_output_of_the_example_diff(capsys, monkeypatch):
    page = (ROOT / "docs" / "how-to" / "migrating.md").read_text(encoding="utf-8")
    command = "$ pytest-xcom diff tests/snapshot_fixtures/airflow-2.11 example_dags/tests/__xcom_snapshots__\n"
    assert command in page, "docs/how-to/migrating.md must show the example's diff"
    shown = page.split(command, 1)[1].split("$ echo $?", 1)[0]
    monkeypatch.chdir(ROOT)
    code, out, _ = _diff(capsys, "tests/snapshot_fixtures/airflow-2.11", "example_dags/tests/__xcom_snapshots__")
    assert code == 1
    assert shown == out, "the example output in docs/how-to/migrating.md is stale: paste the output of the command above into it"


def test_a_test_directory_pairs_with_its_snapshot_folder(capsys):
    # `pytest-xcom diff OLD example_dags/tests` must pair with a copy of the __xcom_snapshots__ folder
    code, out, _ = _diff(capsys, AIRFLOW_2, AIRFLOW_3.parent)
    assert code == 1, f"the token read changed, so the diff must exit 1; got {code}:\n{out}"
    assert "0 only in old, 0 only in new" in out.splitlines()[-1], out
