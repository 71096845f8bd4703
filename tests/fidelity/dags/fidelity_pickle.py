"""(a) A pickling backend: a task returns an instance of a plain class defined in this module."""

from fidelity_common import received

from airflow_compat import dag, task


class Payload:
    def __init__(self, name, rows):
        self.name = name
        self.rows = rows

    def __eq__(self, other):
        return isinstance(other, Payload) and (self.name, self.rows) == (other.name, other.rows)

    def __repr__(self):
        return f"Payload(name={self.name!r}, rows={self.rows!r})"


@dag(dag_id="fidelity_pickle", schedule=None)
def fidelity_pickle():
    @task
    def make():
        return Payload("orders", [1, 2, 3])

    @task
    def read(payload):
        return received(payload, task_id="make")

    read(make())


fidelity_pickle_dag = fidelity_pickle()
