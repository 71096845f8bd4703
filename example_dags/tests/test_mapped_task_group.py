"""Testing a ``@task_group`` expanded per region."""

from pathlib import Path

DAG_FILE = Path(__file__).parent.parent / "mapped_task_group.py"
GROUP_TASKS = ("per_region.fetch_sales", "per_region.convert")


def test_every_task_in_the_group_runs_once_per_region(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    run.assert_succeeded()

    assert run.value("active_regions") == ["eu", "us", "apac"]
    for task_id in GROUP_TASKS:
        run.assert_expanded(task_id, 3)
        assert run.task_states[task_id] == ["success"] * 3
    assert [row["region"] for row in run.value("per_region.convert")] == ["eu", "us", "apac"]


def test_inside_the_group_each_instance_reads_its_own_map_index(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))

    # convert[i] read fetch_sales[i] and nothing else from fetch_sales
    assert run.consumer_instances("per_region.fetch_sales") == {("per_region.convert", i) for i in range(3)}
    for i in range(3):
        reads = [p for p in run.pulled_by("per_region.convert", map_index=i)
                 if p.source_task_id == "per_region.fetch_sales"]
        assert [p.source_map_index for p in reads] == [i]

    # the mapped argument is read by both tasks of the group, at every map index
    assert run.consumers("active_regions") == set(GROUP_TASKS)
    assert len(run.consumer_instances("active_regions")) == 6


def test_the_summary_reads_the_group_output_for_all_regions(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    print(run.report())

    run.assert_pulled("summarize", "per_region.convert")
    run.assert_exclusive("per_region.convert", consumers={"summarize"})
    # only the group's output leaves the group: the raw sales stay inside it
    run.assert_exclusive("per_region.fetch_sales", consumers={"per_region.convert"})

    rows = run.value("per_region.convert")
    summary = run.value("summarize")
    assert summary["regions"] == ["apac", "eu", "us"]
    assert summary["revenue_eur"] == round(sum(r["revenue_eur"] for r in rows), 2)


def test_xcom_rows_and_budget(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE))
    # 1 region list + 3 regions x 2 group tasks + 1 summary
    assert len(run.pushes) == 8
    assert run.size("per_region.fetch_sales") == sum(
        run.size("per_region.fetch_sales", map_index=i) for i in range(3)
    )
    run.assert_max_size("1KB", task_id="per_region.fetch_sales")
    run.assert_max_size("airflow")
    run.assert_json_serializable()
    run.assert_no_unused(ignore=("summarize",))


def test_a_single_region_is_still_a_list_for_the_summary(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"regions": ["uk"]})
    run.assert_succeeded()

    for task_id in GROUP_TASKS:
        run.assert_expanded(task_id, 1)
    assert run.value("per_region.convert") == [run.value("per_region.convert", map_index=0)]
    assert run.value("summarize")["regions"] == ["uk"]


def test_an_unknown_region_fails_before_the_group_expands(xcom):
    run = xcom.run(xcom.load_dag(DAG_FILE), conf={"regions": ["eu", "mars"]})

    assert not run.succeeded
    assert "no exchange rate for regions ['mars']" in run.failures["active_regions"]
    run.assert_not_pushed("active_regions")
    run.assert_expanded("per_region.fetch_sales", 0)
    run.assert_not_pushed("summarize")
