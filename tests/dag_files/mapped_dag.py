"""Dynamic task mapping: a fan-out/fan-in, a single expansion and a mapped task group."""

from airflow_compat import dag, task, task_group


@dag(schedule=None)
def mapped():
    @task
    def files():
        return ["a.csv", "b.csv", "c.csv"]

    @task
    def size(name):
        return len(name) * 10

    @task
    def total(sizes):
        return sum(sizes)

    @task
    def one():
        return ["only.csv"]

    @task
    def load(name):
        return {"loaded": name}

    @task
    def collect(results):
        return list(results)

    @task_group
    def per_day(day):
        @task
        def fetch(day):
            return f"day-{day}"

        @task
        def clean(raw):
            return raw.upper()

        return clean(fetch(day))

    @task
    def days():
        return [1, 2]

    @task
    def summary(cleaned):
        return sorted(cleaned)

    total(size.expand(name=files()))
    collect(load.expand(name=one()))
    summary(per_day.expand(day=days()))


mapped_dag = mapped()
