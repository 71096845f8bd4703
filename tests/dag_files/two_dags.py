from airflow_compat import DAG, dag, task

with DAG("alpha", schedule=None) as alpha:
    @task
    def a():
        return 1

    a()


@dag(schedule=None)
def beta():
    @task
    def b():
        return 2

    b()


beta()  # called at module level and never assigned: Airflow auto-registers it
