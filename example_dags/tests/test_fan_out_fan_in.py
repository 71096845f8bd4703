"""Testing a mapped fan-out (``.expand()``) and its fan-in."""

from pathlib import Path

DAG_FILE = Path(__file__).parent.parent / "fan_out_fan_in.py"


def test_one_instance_per_partition_and_the_fan_in_reads_them_all(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    partitions = run.value("list_partitions")
    assert partitions == [f"orders/dt=2026-01-01/part-{n:03d}" for n in range(4)]
    run.assert_expanded("count_rows", 4)
    expansion = run.expansions("count_rows")
    assert expansion.map_indexes == [0, 1, 2, 3]
    assert expansion.states == ["success"] * 4
    assert all(1_000 <= rows < 1_500 for rows in expansion.values)

    # every mapped instance read the partition list; the fan-in read every mapped XCom
    assert run.consumer_instances("list_partitions") == {("count_rows", i) for i in range(4)}
    assert sorted(p.source_map_index for p in run.pulled_by("total")) == [0, 1, 2, 3]
    assert {p.kind for p in run.pulled_by("total")} == {"argument"}
    assert run.value("total") == {"partitions": 4, "rows": sum(expansion.values)}


def test_mapped_results_stay_small(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    # one XCom row per mapped instance: return a count, never the rows themselves
    run.assert_max_size(16, task_id="count_rows")
    assert run.size("count_rows") == 4 * 4  # four 4-digit integers, summed over map indexes
    run.assert_max_size("48KB")
    run.assert_json_serializable()
    run.assert_no_unused(ignore=("total", "report_late"))  # the two ends of the DAG


def test_a_single_late_partition_still_reaches_the_fan_in_as_a_list(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    run.assert_expanded("reprocess_late", 1)
    assert run.value("reprocess_late") == [
        {"partition": "orders/dt=2026-01-01/late-000", "status": "reprocessed"}
    ]
    assert run.value("report_late") == ["orders/dt=2026-01-01/late-000"]
    assert run.consumer_instances("reprocess_late") == {("report_late", -1)}


def test_more_partitions_more_instances(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"n_partitions": 12})
    run.assert_succeeded()
    run.assert_expanded("count_rows", 12)
    assert run.value("total")["partitions"] == 12


def test_an_empty_partition_list_skips_the_fan_in_but_the_run_succeeds(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"n_partitions": 0})

    # Nothing failed, so the DAG run is green...
    run.assert_succeeded()
    # ...but nothing was counted: zero expansions, and the fan-in was skipped, not run.
    assert run.value("list_partitions") == []
    run.assert_expanded("count_rows", 0)
    assert run.task_states["total"] == "skipped"
    run.assert_not_pushed("total")
    assert run.consumers("list_partitions") == set()
