"""Testing BashOperator XComs: the last line of stdout, read by a template and an XComArg."""

from pathlib import Path

DAG_FILE = Path(__file__).parent.parent / "bash_last_line.py"


def test_the_last_stdout_line_is_pushed_as_a_string(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    # stderr progress and the generated CSV lines are not the XCom: only the last line is
    assert run.pushed_by("export_orders").keys == {"return_value"}
    run.assert_pushed("export_orders", value="37")  # a str, not 37
    run.assert_pushed("validate", value=37)
    # output_processor=json.loads turned archive's last line into a dict
    run.assert_pushed("archive", value={"archived_rows": 37})


def test_template_and_xcomarg_reads_are_both_recorded(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    assert run.consumers("export_orders") == {"validate", "announce"}
    kinds = {p.task_id: p.kind for p in run.pulls if p.source_task_id == "export_orders"}
    assert kinds == {"validate": "argument", "announce": "explicit"}  # XComArg vs {{ ti.xcom_pull }}
    # archive reads validate's int through a templated env var
    run.assert_pulled("archive", "validate")
    run.assert_exclusive("validate", consumers={"archive"})
    # every template pull named its task_ids explicitly
    assert all(p.task_ids_explicit for p in run.pulls)


def test_log_only_bash_tasks_push_nothing(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    print(run.report())

    run.assert_not_pushed("announce")  # do_xcom_push=False
    run.assert_no_unused(ignore=("archive",))
    run.assert_json_serializable()
    run.assert_max_size(64)  # row counts and a tiny dict: nothing here should ever be large


def test_an_empty_export_fails_validation_and_stops_the_archive(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"n_orders": 0})

    assert not run.succeeded
    run.assert_pushed("export_orders", value="0")
    assert "export wrote no rows" in run.failures["validate"]
    assert run.task_states["archive"] == "upstream_failed"
    run.assert_not_pushed("validate")
    run.assert_not_pushed("archive")
    # the template still rendered the (empty) count
    run.assert_pulled("announce", "export_orders")
    assert run.task_states["announce"] == "success"
