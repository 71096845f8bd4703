"""Bad option values stop pytest at start-up with a message naming the option and the problem.

--xcom-report is checked before any test runs; if the report still cannot be written at the end,
the summary says so in one line, the final line stays, and the exit status is 4 (usage error).
Sizes (--xcom-max-size, the xcom_policy marker, assert_max_size) share parse_size: a negative
size or one that is not a whole number of bytes is refused.
"""

import os

import pytest
from pytest_xcom.sizes import SizeError, parse_size

PLAIN = ("-p", "no:randomly", "-p", "no:cacheprovider")
PASSING = "def test_ok():\n    pass\n"


def _run(pytester, *args, source=PASSING):
    pytester.makepyfile(test_user=source)
    return pytester.runpytest(*PLAIN, *args)


# --xcom-report


@pytest.mark.bad_input("report-path-is-a-directory")
def test_report_path_that_is_a_directory_is_a_usage_error(pytester):
    folder = pytester.mkdir("reports")
    result = _run(pytester, f"--xcom-report={folder}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: --xcom-report / xcom_report: {folder} is a directory: give the report a file name, "
            f"e.g. {folder}/xcom-report.html"
        ]
    )
    result.stdout.no_fnmatch_line("*passed*")  # nothing ran


@pytest.mark.bad_input("report-path-not-writable")
def test_report_path_whose_folder_cannot_be_created_is_a_usage_error(pytester):
    blocker = pytester.path / "out"
    blocker.write_text("a file, not a folder\n")
    result = _run(pytester, "--xcom-report", "out/html/report.html")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --xcom-report / xcom_report: the folder {blocker}/html cannot be created: {blocker} is a file"]
    )

    pytester.makeini("[pytest]\nxcom_report = out/report.html\n")  # the ini value is checked the same way
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --xcom-report / xcom_report: the folder * cannot be created: * is a file"])


def test_report_path_checks(tmp_path, monkeypatch):
    from pytest_xcom.reporting.terminal import report_path, report_path_problem

    assert report_path_problem(tmp_path / "new" / "deeper" / "report.html") is None
    assert not (tmp_path / "new").exists()  # the check creates nothing
    existing = tmp_path / "old.html"
    existing.write_text("old report\n")
    assert report_path_problem(existing) is None
    assert "is a directory" in report_path_problem(tmp_path)
    assert report_path_problem(existing / "x.html") == f"the folder {existing} cannot be created: {existing} is a file"

    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as for a user without write permission
    assert report_path_problem(tmp_path / "report.html") == f"the folder {tmp_path} is not writable"
    assert report_path_problem(tmp_path / "sub" / "r.html") == (
        f"the folder {tmp_path / 'sub'} cannot be created: {tmp_path} is not writable"
    )
    assert report_path_problem(existing) == f"{existing} is not writable"
    assert report_path("~/r.html") == report_path(os.path.expanduser("~/r.html"))


@pytest.mark.bad_input("report-cannot-be-written-at-the-end")
def test_report_that_cannot_be_written_at_the_end_is_one_error_line_and_exit_status_4(pytester):
    report = pytester.path / "out" / "report.html"
    source = f"""
def test_makes_the_report_path_a_directory():
    import os
    os.makedirs({str(report)!r})
"""
    result = _run(pytester, f"--xcom-report={report}", source=source)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"pytest-xcom: ERROR: the HTML report (--xcom-report) could not be written to {report}: Is a directory",
            "*= 1 passed in *",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*HTML report of * written to*")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_report_is_still_written_where_it_should_be(pytester):
    result = _run(pytester, "--xcom-report=out/deeper/report.html")
    assert result.ret == 0
    written = pytester.path / "out" / "deeper" / "report.html"
    result.stdout.fnmatch_lines([f"pytest-xcom: HTML report of 0 DAG run(s) written to {written}", "*= 1 passed in *"])
    assert written.is_file()


# --xcom-max-size and every other size


@pytest.mark.bad_input("negative-size-option")
@pytest.mark.parametrize("args", [("--xcom-max-size", "-1"), ("--xcom-max-size=-1",), ("--xcom-max-size=-2KB",)])
def test_negative_max_size_option_says_negative(pytester, args):
    result = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    value = args[-1].split("=")[-1]
    result.stderr.fnmatch_lines(
        [f"ERROR: --xcom-max-size / xcom_max_size: size limit must not be negative, got '{value}'; use bytes*"]
    )
    result.stderr.no_fnmatch_line("*cannot read*")


@pytest.mark.bad_input("fractional-byte-size")
def test_a_size_that_is_not_whole_bytes_is_refused_everywhere(pytester):
    result = _run(pytester, "--xcom-max-size=1.5B")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --xcom-max-size / xcom_max_size: size limit '1.5B' is 1.5 bytes: a size must be a whole "
            "number of bytes (a fraction is fine when it makes whole bytes: '1.5KB' is 1500, '1.5KiB' 1536)"
        ]
    )

    result = _run(
        pytester,
        source="""
import pytest

@pytest.mark.xcom_policy(max_size="1.0001KB")
def test_marker(xcom):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*size limit '1.0001KB' is 1000.1 bytes: a size must be a whole number of bytes*"])

    assert _run(pytester, "--xcom-max-size=1.5KB").ret == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.5KB", 1_500), ("1.5KiB", 1_536), ("0.3KB", 300), ("4.35MB", 4_350_000), ("10.0B", 10), ("0.5KiB", 512),
     ("1.000001MB", 1_000_001), ("-0", 0)],
)
def test_a_fraction_that_makes_whole_bytes_is_exact(text, expected):
    assert parse_size(text) == expected  # 4.35MB was 4,349,999 with float arithmetic


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "size limit must not be negative, got '-1'"),
        (" -1 ", "size limit must not be negative, got ' -1 '"),
        ("-0.5KB", "size limit must not be negative, got '-0.5KB'"),
        ("1.5B", "size limit '1.5B' is 1.5 bytes: a size must be a whole number of bytes"),
        ("1.0001KB", "size limit '1.0001KB' is 1000.1 bytes"),
        ("0.0001KiB", "size limit '0.0001KiB' is 0.1024 bytes"),
        ("1.0000000001GB", "size limit '1.0000000001GB' is 1000000000.1 bytes"),
    ],
)
def test_negative_and_fractional_byte_sizes_are_refused(text, message):
    with pytest.raises(SizeError) as info:
        parse_size(text)
    assert str(info.value).startswith(message)
