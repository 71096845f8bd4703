"""What CI systems read: JUnit XML properties, the --xcom-report page's test outcomes, pytest-html rows."""

from __future__ import annotations

import html
import html.parser
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

TESTS = """
import pytest
from mapped_dag import mapped_dag
from failing_dag import failing_dag

def test_mapped(xcom):
    xcom.run(mapped_dag).assert_succeeded()

def test_failing(xcom):
    xcom.run(failing_dag).assert_succeeded()

@pytest.mark.xfail(reason="the transform cannot parse the count yet")
def test_expected_failure(xcom):
    xcom.run(failing_dag).assert_succeeded()

def test_asserts_the_failure(xcom):
    assert xcom.run(failing_dag).state == "failed"

def test_two_runs(xcom):
    xcom.run(mapped_dag)
    xcom.run(failing_dag)

def test_without_runs():
    pass
"""
DAG_FILES = ("mapped_dag.py", "failing_dag.py")


def _properties(junit: str) -> dict[str, dict[str, str]]:
    """{test name: {property: value}} of a JUnit XML file."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        found[case.get("name")] = {p.get("name"): p.get("value") for p in case.iter("property")}
    return found


def _check_junit_properties(path: str) -> None:
    props = _properties(path)
    print(json.dumps(props, indent=1))
    names = ["xcom_runs", "xcom_pushes", "xcom_bytes", "xcom_largest", "dag_run_states"]
    for test in ("test_mapped", "test_failing", "test_expected_failure", "test_asserts_the_failure", "test_two_runs"):
        assert list(props[test]) == names, f"{test} should carry exactly the xcom properties: {props[test]}"
    assert props["test_without_runs"] == {}, "a test that made no run gets no property"
    assert props["test_mapped"]["dag_run_states"] == "mapped=success"
    assert props["test_failing"]["dag_run_states"] == "failing=failed"
    assert props["test_two_runs"]["dag_run_states"] == "mapped=success,failing=failed"
    mapped, failing, both = props["test_mapped"], props["test_failing"], props["test_two_runs"]
    assert mapped["xcom_runs"] == "1" and both["xcom_runs"] == "2"
    for key in ("xcom_pushes", "xcom_bytes"):  # two runs: the sums of the single runs'
        assert int(both[key]) == int(mapped[key]) + int(failing[key]) > 0, key
    assert int(both["xcom_largest"]) == max(int(mapped["xcom_largest"]), int(failing["xcom_largest"]))
    assert 0 < int(mapped["xcom_largest"]) <= int(mapped["xcom_bytes"])


def test_junit_xml_carries_each_tests_xcom_properties(user_tests, pytester):
    result = user_tests(TESTS, "--junitxml=junit.xml", dag_files=DAG_FILES)
    result.assert_outcomes(passed=4, failed=1, xfailed=1)
    _check_junit_properties(str(pytester.path / "junit.xml"))


def test_junit_xml_properties_under_xdist(user_tests, pytester):
    result = user_tests(TESTS, "--junitxml=junit.xml", "-n", "2", dag_files=DAG_FILES, subprocess=True)
    result.assert_outcomes(passed=4, failed=1, xfailed=1)
    _check_junit_properties(str(pytester.path / "junit.xml"))


def test_the_xcom_report_shows_each_tests_outcome_beside_its_runs(user_tests, pytester):
    result = user_tests(TESTS, "--xcom-report=report.html", dag_files=DAG_FILES)
    result.assert_outcomes(passed=4, failed=1, xfailed=1)
    page = (pytester.path / "report.html").read_text(encoding="utf-8")
    rows = _summary_rows(page)
    print(json.dumps(rows, indent=1))
    assert rows == [
        ["1", "test_user.py::test_mapped", "test passed", "mapped", "success"],
        ["2", "test_user.py::test_failing", "test failed", "failing", "failed"],
        ["3", "test_user.py::test_expected_failure", "test xfailed", "failing", "failed"],
        ["4", "test_user.py::test_asserts_the_failure", "test passed", "failing", "failed"],
        ["5", "test_user.py::test_two_runs", "test passed", "mapped", "success"],
        ["6", "test_user.py::test_two_runs", "test passed", "failing", "failed"],
    ]
    text = _text(page)
    assert "6 run(s) · " in text and "4 run(s) not successful, 3 of them on purpose" in text, text
    assert "5 test(s) · 1 failed · 3 passed · 1 xfailed" in text, text
    assert (
        "Runs that failed on purpose: #3 failing (test xfailed: an expected failure), "
        "#4 failing (test passed: it asserted the failure), #6 failing (test passed: it asserted the failure)"
    ) in text, text
    # Each run's own section says its test's outcome next to the run's state too.
    assert re.search(r'<h2>failing <span class="badge state-failed">failed</span> <span class="badge state-failed"[^>]*>test failed</span></h2>', page)


def test_an_error_in_setup_or_teardown_is_an_error(user_tests, pytester):
    result = user_tests(
        """
        import pytest
        from mapped_dag import mapped_dag

        @pytest.fixture
        def breaks_after():
            yield
            raise RuntimeError("teardown broke")

        def test_ran_then_broke(xcom, breaks_after):
            xcom.run(mapped_dag)
        """,
        "--xcom-report=report.html",
        dag_files=("mapped_dag.py",),
    )
    result.assert_outcomes(passed=1, errors=1)
    rows = _summary_rows((pytester.path / "report.html").read_text(encoding="utf-8"))
    assert rows == [["1", "test_user.py::test_ran_then_broke", "test error", "mapped", "success"]]


class _Cells(html.parser.HTMLParser):
    """The cells of the summary's first table, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_table = self._done = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and not self._done:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._in_table:
            self._in_table, self._done = False, True
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _summary_rows(page: str) -> list[list[str]]:
    parser = _Cells()
    parser.feed(page)
    return [row[:5] for row in parser.rows if row]


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# -- pytest-html -------------------------------------------------------------------------------


def _pytest_html_rows(report: str) -> dict[str, list[dict]]:
    """pytest-html 4 keeps its rows as JSON in the page's data-jsonblob: {test id: [rows]}."""
    blob = re.search(r'data-jsonblob="([^"]*)"', report)
    assert blob is not None, "no data-jsonblob in the pytest-html report"
    return json.loads(html.unescape(blob.group(1)))["tests"]


def test_pytest_html_rows_carry_the_xcom_table_and_graph(user_tests, pytester):
    pytest.importorskip("pytest_html")
    result = user_tests(TESTS, "--html=report.html", "--self-contained-html", dag_files=DAG_FILES)
    result.assert_outcomes(passed=4, failed=1, xfailed=1)
    rows = _pytest_html_rows((pytester.path / "report.html").read_text(encoding="utf-8"))

    def extras_html(test: str) -> str:
        entries = rows[f"test_user.py::{test}"]
        return "".join(x["content"] for row in entries for x in row["extras"] if x["format_type"] == "html")

    mapped = extras_html("test_mapped")
    for task_id in ("files", "size", "total"):
        assert f'data-task-id="{task_id}"' in mapped, f"the graph should have a node for {task_id}"
    assert "<h3>XComs pushed</h3>" in mapped and "<th>readers</th>" in mapped
    assert 'class="pytest-xcom"' in mapped and ".pytest-xcom table{" in mapped, "styles must stay inside the fragment"
    failing = extras_html("test_failing")
    assert "<h3>Failures</h3>" in failing and "ValueError" in failing
    both = extras_html("test_two_runs")
    assert both.count('<section class="run"') == 2
    assert extras_html("test_without_runs") == ""
    # Element ids are unique on the shared page (each test's graphs have their own markers).
    ids = re.findall(r'<marker id="([^"]+)"', "".join(extras_html(t) for t in ("test_mapped", "test_failing", "test_two_runs")))
    assert len(ids) == len(set(ids)) > 0


def test_nothing_is_added_without_pytest_html(user_tests):
    result = user_tests(TESTS, "-p", "no:html", dag_files=DAG_FILES)
    result.assert_outcomes(passed=4, failed=1, xfailed=1)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _dump_dom(binary: str, page, profile) -> str:
    done = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_chromium_shows_the_graphs_in_pytest_htmls_rows_and_outcomes_in_the_xcom_report(user_tests, pytester, tmp_path):
    pytest.importorskip("pytest_html")
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (apt-get install -y chromium)")
    result = user_tests(
        TESTS, "--html=report.html", "--self-contained-html", "--xcom-report=xcom.html", dag_files=DAG_FILES
    )
    result.assert_outcomes(passed=4, failed=1, xfailed=1)
    dom = _dump_dom(binary, pytester.path / "report.html", tmp_path / "profile")
    # pytest-html builds its rows in the browser: the fragments must be in the live DOM.
    for task_id in ("files", "size", "total", "extract", "transform", "load"):
        assert f'data-task-id="{task_id}"' in dom, f"no node for {task_id} in pytest-html's rendered rows"
    assert dom.count('class="pytest-xcom"') == 5
    xcom_dom = _dump_dom(binary, pytester.path / "xcom.html", tmp_path / "profile2")
    assert ">test failed</span>" in xcom_dom and ">test xfailed</span>" in xcom_dom
