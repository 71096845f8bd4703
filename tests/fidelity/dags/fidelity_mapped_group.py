"""(i) A mapped task group (expand over a list inside @task_group) and a reader of all its results."""

from fidelity_common import received

from airflow_compat import dag, task, task_group


@dag(dag_id="fidelity_mapped_group", schedule=None)
def fidelity_mapped_group():
    @task
    def items():
        return [1, 2, 3]

    @task_group
    def per_item(n):
        @task
        def double(n):
            return n * 2

        @task
        def label(doubled, n):
            return f"item-{n}:{doubled}"

        return label(double(n), n)

    @task
    def collect(labels):
        return received(labels, task_id="per_item.label", mapped=True)

    collect(per_item.expand(n=items()))


fidelity_mapped_group_dag = fidelity_mapped_group()
