"""A user's input error shows the user's file, line and message, never the harness's frames;
a bad marker errors its test when it is collected, before any fixture or the test body runs."""

import re

import pytest

HARNESS_FRAME = re.compile(r"pytest_xcom[/\\]|contextlib\.py|importlib")


def _failure_section(result: pytest.RunResult, test: str) -> str:
    """The lines pytest printed for one failing test (its FAILURES/ERRORS section)."""
    text = result.stdout.str()
    start = re.search(rf"^_+ (ERROR at setup of )?{test} _+$", text, flags=re.M)
    assert start is not None, f"no failure section for {test} in:\n{text}"
    end = re.search(r"^(_+ .* _+|=+ .* =+)$", text[start.end() :], flags=re.M)
    return text[start.end() : start.end() + end.start()] if end else text[start.end() :]


def _failing_load(user_tests, test: str, file: str, content: str) -> tuple[pytest.RunResult, str]:
    """A user test loading a DAG file that does not import: pytest's result and the failure it printed."""
    result = user_tests(
        f"""
        def {test}(xcom, tmp_path):
            (tmp_path / {file!r}).write_text({content!r})
            xcom.load_dag(tmp_path / {file!r})
        """
    )
    result.assert_outcomes(failed=1)
    section = _failure_section(result, test)
    print(section)
    assert not HARNESS_FRAME.search(section), f"harness frames in the failure:\n{section}"
    return result, section


def test_a_syntax_error_in_a_dag_file_shows_the_error_once_and_no_harness_frame(user_tests):
    result, section = _failing_load(user_tests, "test_broken", "broken.py", "import os\n\ndef broken(:\n    pass\n")
    assert section.count("SyntaxError") == 1, f"the SyntaxError should be said once:\n{section}"
    shown = [line for line in section.splitlines() if line.startswith("E ") and "def broken(:" in line]
    assert len(shown) == 1, f"the offending line should be shown once:\n{section}"
    assert "The above exception was the direct cause" not in section
    lines = [
        ">       xcom.load_dag(tmp_path / 'broken.py')",
        "E       pytest_xcom.errors.DagFileError: could not import DAG file '*broken.py': SyntaxError: * (broken.py, line 3)",
        'E         File "*broken.py", line 3',
        "E           def broken(:",
        "E                      ^",
        "",
        "test_user.py:3: DagFileError",
    ]
    result.stdout.fnmatch_lines(lines, consecutive=True)
    assert len(section.strip().splitlines()) <= 15, f"a typo should take a few lines, not:\n{section}"


def test_a_dag_file_that_raises_shows_its_own_line(user_tests):
    result, _ = _failing_load(user_tests, "test_raises", "raises.py", "import os\n\nraise RuntimeError('needs DB_PASSWORD')\n")
    result.stdout.fnmatch_lines(
        [
            "E       pytest_xcom.errors.DagFileError: could not import DAG file '*raises.py': RuntimeError: needs DB_PASSWORD",
            'E         File "*raises.py", line 3, in <module>',
            "E           raise RuntimeError('needs DB_PASSWORD')",
            "",
            "test_user.py:3: DagFileError",
        ],
        consecutive=True,
    )


def test_a_backend_error_keeps_the_users_frames_of_its_cause_and_drops_the_harness(user_tests, pytester):
    pytester.makepyfile(
        flaky_backend="""
        def _connect():
            raise RuntimeError("REDIS_URL is not set")

        _connect()
        """
    )
    result = user_tests(
        """
        from mapped_dag import mapped_dag

        def test_missing(xcom):
            xcom.run(mapped_dag, backend="no_such_module.MyXCom")

        def test_flaky(xcom):
            xcom.run(mapped_dag, backend="flaky_backend.RedisXCom")
        """,
        dag_files=("mapped_dag.py",),
    )
    result.assert_outcomes(failed=2)
    missing = _failure_section(result, "test_missing")
    flaky = _failure_section(result, "test_flaky")
    print(missing, flaky)
    for section in (missing, flaky):
        assert not HARNESS_FRAME.search(section), f"harness frames in the failure:\n{section}"
    # The ImportError was raised by the import machinery alone: its message is in the error's.
    assert "direct cause" not in missing and "ModuleNotFoundError" not in missing.replace(
        "No module named", ""
    ), missing
    assert "cannot import module 'no_such_module': No module named 'no_such_module'" in missing
    # The user's module raised: its frames are what helps.
    assert "flaky_backend.py:2: RuntimeError" in flaky and "flaky_backend.py:4: " in flaky, flaky
    assert "importing module 'flaky_backend' raised RuntimeError: REDIS_URL is not set" in flaky


def test_full_trace_still_shows_the_harness_frames(user_tests):
    result = user_tests(
        """
        def test_broken(xcom, tmp_path):
            (tmp_path / "broken.py").write_text("def broken(:\\n")
            xcom.load_dag(tmp_path / "broken.py")
        """,
        "--full-trace",
    )
    result.assert_outcomes(failed=1)
    assert "pytest_xcom/recording/loader.py" in result.stdout.str(), "--full-trace must hide nothing"


def test_a_harness_bug_keeps_every_frame(user_tests):
    # Not an input error: the frames are what a maintainer needs.
    result = user_tests(
        """
        from pytest_xcom.sizes import human

        def test_bug():
            human("not a number")
        """
    )
    result.assert_outcomes(failed=1)
    assert "pytest_xcom/sizes.py" in result.stdout.str()


@pytest.mark.bad_input("unknown-backend-in-a-marker")
def test_bad_markers_error_their_tests_at_collection_before_fixtures_or_body(user_tests):
    result = user_tests(
        """
        import pytest

        @pytest.fixture
        def noisy():
            print("FIXTURE RAN")

        @pytest.mark.xcom_backend("dynamodb")
        def test_unknown_backend(xcom, noisy):
            print("BODY RAN")

        @pytest.mark.xcom_policy(maxsize="48KB")
        class TestPolicy:
            def test_in_class(self, noisy):
                print("BODY RAN")

        @pytest.mark.xcom_backend("s3", bucket="Bad_Bucket")
        def test_without_the_xcom_fixture():
            print("BODY RAN")

        def test_fine(noisy):
            print("FINE RAN")
        """,
        "-s",
    )
    result.assert_outcomes(errors=3, passed=1)
    output = result.stdout.str()
    print(output)
    assert "BODY RAN" not in output, "a test with a bad marker must not run"
    assert output.count("FIXTURE RAN") == 1, "only the good test's fixtures may be set up"
    result.stdout.fnmatch_lines_random(
        [
            "*ERROR at setup of test_unknown_backend*",
            "test_user.py::test_unknown_backend: @pytest.mark.xcom_backend: XCom backend 'dynamodb' is neither "
            "'db', 's3', 'gcs', 'azure' nor a dotted path such as 'my_project.xcom_backend.MyXCom'",
            "test_user.py::TestPolicy::test_in_class: @pytest.mark.xcom_policy got unknown argument(s) maxsize; "
            "it accepts: max_size, strict",
            "test_user.py::test_without_the_xcom_fixture: @pytest.mark.xcom_backend: s3 backend option "
            "bucket='Bad_Bucket' is not a valid S3 bucket name*",
            "*FINE RAN*",
        ]
    )
    assert not HARNESS_FRAME.search(_failure_section(result, "test_unknown_backend"))


def test_an_unknown_backend_name_in_the_option_is_a_usage_error(user_tests):
    result = user_tests("def test_x():\n    pass\n", "--xcom-backend=dynamodb")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*XCom backend 'dynamodb' is neither 'db', 's3', 'gcs', 'azure' nor a dotted path*"])


@pytest.mark.bad_input("bad-airflow-logs-option")
def test_a_bad_airflow_logs_value_is_a_usage_error(user_tests):
    result = user_tests("def test_x():\n    pass\n", "--xcom-airflow-logs=some")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xcom-airflow-logs / xcom_airflow_logs must be one of failed, all, none, not 'some'"])
