"""Bad input gets a clear, specific error and loses nothing: one test per case.

Each ``CASES`` entry is one row of the "Bad input" table in docs/reference/bad-input.md (checked by the last test):
id -> (user test source, extra pytest args, lines the output must contain). Cases tested in other
modules carry the ``bad_input`` marker with their case id, and have their row too.
"""

import re
from pathlib import Path

import pytest

from airflow_compat import AIRFLOW2

BASE_XCOM = "airflow.models.xcom.BaseXCom" if AIRFLOW2 else "airflow.sdk.bases.xcom.BaseXCom"

DAG_HEADER = """
        import datetime, pytest
        from airflow_compat import dag, task, task_group
"""

CASES = {
    "dag-file-syntax-error": (
        """
        import pytest
        from pytest_xcom import DagFileError

        def test_case(xcom, tmp_path):
            (tmp_path / "broken.py").write_text("def broken(:\\n")
            with pytest.raises(DagFileError) as info:
                xcom.load_dag(tmp_path / "broken.py")
            print("MESSAGE", str(info.value).splitlines()[0])
        """,
        ["*MESSAGE could not import DAG file '*broken.py': SyntaxError: invalid syntax*"],
    ),
    "dag-file-raises-at-import": (
        """
        import pytest
        from pytest_xcom import DagFileError

        def test_case(xcom, tmp_path):
            (tmp_path / "raises.py").write_text("raise RuntimeError('needs DB_PASSWORD')\\n")
            with pytest.raises(DagFileError) as info:
                xcom.load_dag(tmp_path / "raises.py")
            print("MESSAGE", str(info.value).splitlines()[0])
        """,
        ["*MESSAGE could not import DAG file '*raises.py': RuntimeError: needs DB_PASSWORD"],
    ),
    "dag-file-without-dag": (
        """
        import pytest
        from pytest_xcom import DagFileError

        def test_case(xcom, tmp_path):
            (tmp_path / "plain.py").write_text("VALUE = 1\\n")
            with pytest.raises(DagFileError, match="defines no DAG: no DAG object at module level and no @dag function called at module level"):
                xcom.load_dag(tmp_path / "plain.py")
        """,
        [],
    ),
    "dag-file-missing": (
        """
        import pytest
        from pytest_xcom import DagFileError

        def test_case(xcom):
            with pytest.raises(DagFileError, match="DAG file 'dags/nope.py' does not exist"):
                xcom.load_dag("dags/nope.py")
        """,
        [],
    ),
    "unknown-dag-id": (
        """
        import pytest
        from pytest_xcom import DagFileError

        def test_case(xcom, tmp_path):
            (tmp_path / "one.py").write_text("from airflow_compat import DAG\\nd = DAG('alpha', schedule=None)\\n")
            with pytest.raises(DagFileError, match="has no DAG 'beta'; it defines: alpha"):
                xcom.load_dag(tmp_path / "one.py", dag_id="beta")
        """,
        [],
    ),
    "ambiguous-dag-id": (
        """
        import pytest
        from pytest_xcom import DagFileError

        def test_case(xcom, tmp_path):
            (tmp_path / "two.py").write_text(
                "from airflow_compat import DAG\\na = DAG('alpha', schedule=None)\\nb = DAG('beta', schedule=None)\\n")
            with pytest.raises(DagFileError, match="defines 2 DAGs \\\\(alpha, beta\\\\); pass dag_id= to choose one"):
                xcom.load_dag(tmp_path / "two.py")
        """,
        [],
    ),
    "dag-with-a-cycle": (
        DAG_HEADER
        + """
        from airflow_compat import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator
        from pytest_xcom import DagRunError

        def test_case(xcom):
            with DAG("cyclic", schedule=None) as cyclic:
                a = EmptyOperator(task_id="a")
                b = EmptyOperator(task_id="b")
                a >> b >> a
            with pytest.raises(DagRunError) as info:
                xcom.run(cyclic)
            print("MESSAGE", str(info.value).splitlines()[0])
        """,
        ["*MESSAGE DAG 'cyclic' could not run: AirflowDagCycleException: Cycle detected in D[Aa][Gg]: cyclic. Faulty task: *"],
    ),
    "value-airflow-cannot-serialize": (
        DAG_HEADER
        + """
        @dag(schedule=None)
        def unserializable():
            @task
            def make():
                return object()
            make()

        def test_case(xcom):
            run = xcom.run(unserializable())
            assert run.task_states["make"] == "failed" and run.pushes == []
            print("MESSAGE", run.failures["make"].strip().splitlines()[-1])
        """,
        # Airflow 2 serializes XComs with json and serde's encoder: the json module's message
        ["*MESSAGE TypeError: Object of type object is not JSON serializable"]
        if AIRFLOW2
        else ["*MESSAGE TypeError: [Cc]annot serialize object of type <class 'object'>*"],
    ),
    "fifty-megabyte-xcom": (
        DAG_HEADER
        + """
        @dag(schedule=None)
        def huge():
            @task
            def blob():
                return "x" * (50 * 1024 * 1024)
            @task
            def length(value):
                return len(value)
            length(blob())

        def test_case(xcom):
            run = xcom.run(huge())
            run.assert_succeeded()
            assert run.value("length") == 50 * 1024 * 1024
            run.assert_max_size("airflow")
        """,
        ["*1 XCom(s) of DAG 'huge' exceed the serialized size limit of 48.2 KiB (49,344 bytes, preset 'airflow'), largest first:",
         "*blob key 'return_value': 50.0 MiB (52,428,802 bytes)"],
    ),
    "deeply-nested-value": (
        DAG_HEADER
        + """
        @dag(schedule=None)
        def nested():
            @task
            def deep():
                value = "leaf"
                for _ in range(5000):
                    value = [value]
                return value
            deep()

        def test_case(xcom):
            run = xcom.run(nested())
            print("STATE", run.task_states["deep"])
            print("MESSAGE", run.failures["deep"].strip().splitlines()[-1][:120])
        """,
        ["*STATE failed", "*MESSAGE RecursionError: maximum recursion depth exceeded*"],
    ),
    "unicode-keys-and-values": (
        DAG_HEADER
        + """
        @dag(schedule=None)
        def unicode_dag():
            @task
            def push(ti=None):
                ti.xcom_push(key="city", value={"ville": "Zürich ✓", "emoji": "🚀", "日本": "東京"})
            @task
            def read(ti=None):
                return ti.xcom_pull(task_ids="push", key="city")
            @task
            def accented_key(ti=None):
                ti.xcom_push(key="prénom", value=1)
            @task
            def cjk_key(ti=None):
                ti.xcom_push(key="日本", value=1)
            push() >> read()
            [accented_key(), cjk_key()]

        def test_case(xcom):
            run = xcom.run(unicode_dag())
            run.assert_pushed("push", "city", {"ville": "Zürich ✓", "emoji": "🚀", "日本": "東京"})
            assert run.value("read") == {"ville": "Zürich ✓", "emoji": "🚀", "日本": "東京"}
            # Airflow 3.3's in-process execution API cannot carry a non-ASCII key in its URL path
            for task_id in ("accented_key", "cjk_key"):
                print("KEY", task_id, run.task_states[task_id], run.failures[task_id].strip().splitlines()[-1][:60])
            run.assert_pushed("cjk_key", "日本")
        """,
        [
            "*KEY accented_key failed UnicodeDecodeError: 'utf-8' codec can't decode byte 0x*",
            "*KEY cjk_key failed UnicodeEncodeError: 'latin-1' codec can't encode character*",
            "*expected task 'cjk_key' to push XCom key '日本', but it did not.",
            "*It pushed: nothing.",
            "*Task 'cjk_key' ended in state 'failed'; see run.failures or run.assert_succeeded().",
        ],
    ),
    "task-ids-inside-task-groups": (
        DAG_HEADER
        + """
        @dag(schedule=None)
        def grouped():
            @task_group
            def clean():
                @task
                def dedupe():
                    return [1, 2]
                return dedupe()
            @task
            def load(rows):
                return len(rows)
            load(clean())

        def test_case(xcom):
            run = xcom.run(grouped())
            assert run.value("clean.dedupe") == [1, 2] and run.consumers("clean.dedupe") == {"load"}
            run.value("dedupe")
        """,
        ["*XComLookupError: task 'dedupe' is not in DAG 'grouped'; did you mean 'clean.dedupe'? Its tasks are: clean.dedupe, load"],
    ),
    "backend-path-does-not-exist": (
        DAG_HEADER
        + """
        @pytest.mark.xcom_backend("my_project.xcom.S3XCom")
        def test_case(xcom):
            @dag(schedule=None)
            def d():
                @task
                def a():
                    return 1
                a()
            xcom.run(d())
        """,
        ["*BackendError: XCom backend 'my_project.xcom.S3XCom': cannot import module 'my_project.xcom': No module named 'my_project'"],
    ),
    "class-that-is-not-a-backend": (
        DAG_HEADER
        + """
        @pytest.mark.xcom_backend("json.JSONEncoder")
        def test_case(xcom):
            @dag(schedule=None)
            def d():
                @task
                def a():
                    return 1
                a()
            xcom.run(d())
        """,
        [f"*BackendError: XCom backend 'json.JSONEncoder' is not a subclass of {BASE_XCOM} (it is <class 'json.encoder.JSONEncoder'>)"],
    ),
    "backend-serialize-raises": (
        DAG_HEADER
        + """
        from airflow_compat import BaseXCom

        class Failing(BaseXCom):
            @staticmethod
            def serialize_value(value, **kwargs):
                raise ConnectionError("bucket xcom-prod is not reachable")

        @dag(schedule=None)
        def d():
            @task
            def a():
                return 1
            a()

        def test_case(xcom):
            run = xcom.run(d(), backend=f"{__name__}.Failing")
            print("MESSAGE", run.failures["a"].strip().splitlines()[-1])
            assert run.pushes == []
        """,
        ["*MESSAGE ConnectionError: bucket xcom-prod is not reachable"],
    ),
    "backend-deserialize-raises": (
        DAG_HEADER
        + """
        from airflow_compat import BaseXCom

        class Unreadable(BaseXCom):
            @staticmethod
            def deserialize_value(result):
                raise ValueError("cannot decode XCom payload")

        @dag(schedule=None)
        def d():
            @task
            def a():
                return 1
            @task
            def b(v):
                return v
            b(a())

        def test_case(xcom):
            run = xcom.run(d(), backend=f"{__name__}.Unreadable")
            assert run.task_states == {"a": "success", "b": "failed"}
            print("MESSAGE", run.failures["b"].strip().splitlines()[-1])
        """,
        ["*MESSAGE ValueError: cannot decode XCom payload"],
    ),
    "missing-object-in-storage": (
        """
        import pytest
        from airflow_compat import dag, task

        @pytest.mark.xcom_backend("s3", threshold=0)
        def test_case(xcom, xcom_s3):
            @dag(schedule=None)
            def d():
                @task
                def a():
                    return {"rows": 3}
                a()
            run = xcom.run(d())
            (key,) = xcom_s3.keys()
            xcom_s3.client.delete_object(Bucket=xcom_s3.bucket, Key=key)
            xcom_s3.read(key)
        """,
        ["*KeyError: \"no object 'xcom/d/*' in the mocked bucket 'pytest-xcom'; it holds: nothing\""],
    ),
    "unknown-size-unit": (
        """
        def test_case(xcom):
            from airflow_compat import dag, task
            @dag(schedule=None)
            def d():
                @task
                def a():
                    return 1
                a()
            xcom.run(d()).assert_max_size("48XB")
        """,
        ["*SizeError: cannot read size limit '48XB': use bytes (e.g. 49344), a number with a unit (B, KB, MB, GB, KiB, MiB, GiB; e.g. '48KB', '64KiB', '1.5MB') or a preset ('airflow', 'mysql', 'postgres', 'sqlite')"],
    ),
    "negative-size": (
        """
        def test_case(xcom):
            from airflow_compat import dag, task
            @dag(schedule=None)
            def d():
                @task
                def a():
                    return 1
                a()
            xcom.run(d()).assert_max_size(-1)
        """,
        ["*SizeError: size limit must not be negative, got -1"],
    ),
    "marker-without-backend-name": (
        """
        import pytest

        @pytest.mark.xcom_backend(threshold=10)
        def test_case(xcom):
            pass
        """,
        ["*@pytest.mark.xcom_backend takes the backend name as its one positional argument, e.g. @pytest.mark.xcom_backend('s3', threshold=1024); got ()"],
    ),
    "wrong-policy-marker-arguments": (
        """
        import pytest

        @pytest.mark.xcom_policy(maxsize="48KB")
        def test_case(xcom):
            pass
        """,
        ["*@pytest.mark.xcom_policy got unknown argument(s) maxsize; it accepts: max_size, strict"],
    ),
    "unknown-backend-options": (
        """
        import pytest

        @pytest.mark.xcom_backend("s3", treshold=10)
        def test_case(xcom):
            pass
        """,
        ["*unknown option(s) treshold for XCom backend 's3'; it accepts: threshold, compression, bucket, prefix"],
    ),
    "bad-freeze-time": (
        DAG_HEADER
        + """
        def test_case(xcom):
            @dag(schedule=None)
            def d():
                @task
                def a():
                    return 1
                a()
            xcom.run(d(), freeze_time="next tuesday")
        """,
        ["*ValueError: freeze_time='next tuesday' is not a datetime, an ISO 8601 string (e.g. '2026-01-01T06:00:00+00:00') or True (the logical date)"],
    ),
    "conf-not-json-serializable": (
        DAG_HEADER
        + """
        def test_case(xcom):
            @dag(schedule=None)
            def d():
                @task
                def a():
                    return 1
                a()
            xcom.run(d(), conf={"day": datetime.date(2026, 1, 1)})
        """,
        ["*TypeError: conf must be JSON-serializable, as Airflow stores it in the dag_run table: Object of type date is not JSON serializable"],
    ),
    "queries-before-any-run": (
        """
        def test_case(xcom):
            xcom.pushed_by("extract")
        """,
        ["*NoRunError: no DAG run yet in this test: call xcom.run(dag) before querying or asserting on xcom"],
    ),
    "unknown-task-in-a-query": (
        DAG_HEADER
        + """
        def test_case(xcom):
            @dag(schedule=None)
            def d():
                @task
                def extract():
                    return 1
                extract()
            xcom.run(d()).value("extrat")
        """,
        ["*XComLookupError: task 'extrat' is not in DAG 'd'; did you mean 'extract'? Its tasks are: extract"],
    ),
    "bad-max-size-option": (
        "def test_case():\n    pass\n",
        ["ERROR: --xcom-max-size / xcom_max_size: cannot read size limit 'huge'*"],
    ),
    "keyboard-interrupt-during-a-run": (
        DAG_HEADER
        + """
        from airflow.sdk.execution_time import supervisor, task_runner, xcom as xcom_module
        from airflow_compat import BaseXCom

        def test_case(xcom, monkeypatch):
            from airflow.models.dagrun import DagRun
            comms_send = supervisor.InProcessSupervisorComms.send
            calls = []
            original = DagRun.update_state

            def ctrl_c_on_the_second_round(self, *args, **kwargs):
                calls.append(1)
                if len(calls) == 2:                  # after the first task ran: Ctrl-C in dag.test's loop
                    raise KeyboardInterrupt
                return original(self, *args, **kwargs)

            monkeypatch.setattr(DagRun, "update_state", ctrl_c_on_the_second_round)

            @dag(schedule=None)
            def interrupted():
                @task
                def first():
                    return 1
                @task
                def second(v):
                    return v
                second(first())

            with pytest.raises(KeyboardInterrupt):
                xcom.run(interrupted())
            # every patch is undone: Airflow is as it was, and the next run works
            assert supervisor.InProcessSupervisorComms.send is comms_send
            assert xcom_module.XCom is BaseXCom and task_runner.XCom is BaseXCom

        def test_next_test_gets_a_clean_state(xcom, xcom_db):
            from sqlalchemy import func, select
            from airflow.models import DagRun
            with xcom_db.session() as session:
                assert session.scalar(select(func.count()).select_from(DagRun)) == 0

            @dag(schedule=None)
            def fine():
                @task
                def a():
                    return 1
                a()
            xcom.run(fine()).assert_succeeded()
        """,
        [],
    ),
}

EXTRA_ARGS = {"bad-max-size-option": ("--xcom-max-size=huge",)}
EXPECTED_OUTCOME = {
    "fifty-megabyte-xcom": dict(failed=1),
    "unicode-keys-and-values": dict(failed=1),
    "task-ids-inside-task-groups": dict(failed=1),
    "backend-path-does-not-exist": dict(failed=1),
    "class-that-is-not-a-backend": dict(failed=1),
    "missing-object-in-storage": dict(failed=1),
    "unknown-size-unit": dict(failed=1),
    "negative-size": dict(failed=1),
    "marker-without-backend-name": dict(errors=1),
    "wrong-policy-marker-arguments": dict(errors=1),
    "unknown-backend-options": dict(errors=1),
    "bad-freeze-time": dict(failed=1),
    "conf-not-json-serializable": dict(failed=1),
    "queries-before-any-run": dict(failed=1),
    "unknown-task-in-a-query": dict(failed=1),
    "keyboard-interrupt-during-a-run": dict(passed=2),
}


# Cases about Airflow 3 machinery that Airflow 2 does not have, with what is different there.
NOT_ON_AIRFLOW_2 = {
    "keyboard-interrupt-during-a-run": "it interrupts the Task SDK's in-process supervisor channel",
    "unicode-keys-and-values": "non-ASCII keys fail only in Airflow 3's execution API (a URL path); "
    "Airflow 2 stores them",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(user_tests, case):
    if AIRFLOW2 and case in NOT_ON_AIRFLOW_2:
        pytest.skip(f"not on Airflow 2: {NOT_ON_AIRFLOW_2[case]}")
    source, expected = CASES[case]
    result = user_tests(source, "-s", *EXTRA_ARGS.get(case, ()))
    if case in EXTRA_ARGS:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(expected)
        return
    result.assert_outcomes(**EXPECTED_OUTCOME.get(case, dict(passed=1)))
    if expected:
        result.stdout.fnmatch_lines(expected)


def _marked_cases() -> list[str]:
    """Cases tested elsewhere, each by a test carrying the bad_input marker with its case id."""
    found = []
    for module in Path(__file__).parent.glob("test_*.py"):
        found += re.findall(r"@pytest\.mark\.bad_input\(\"([a-z0-9-]+)\"\)", module.read_text())
    return found


def test_docs_table_matches_these_cases_one_to_one():
    page = (Path(__file__).parents[1] / "docs" / "reference" / "bad-input.md").read_text()
    assert page.startswith("# Bad input"), "docs/reference/bad-input.md must hold the bad-input table"
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", page, flags=re.M)
    cases = [*CASES, *_marked_cases()]
    assert len(cases) == len(set(cases)), "a bad-input case is tested twice"
    assert sorted(rows) == sorted(cases), "the docs' bad-input table (docs/reference/bad-input.md) and the tests disagree"
    assert len(CASES) >= 25
