"""(b) A backend that stores a type Airflow's serde cannot serialize (as CSV text): the plain run succeeds."""

from fidelity_common import received
from fidelity_types import Frame

from airflow_compat import dag, task


@dag(dag_id="fidelity_codec", schedule=None)
def fidelity_codec():
    @task
    def make_frame():
        return Frame(["sku", "qty"], [("A-1", 3), ("B-2", 5)])

    @task
    def read(frame):
        return received(frame, task_id="make_frame")

    read(make_frame())


fidelity_codec_dag = fidelity_codec()
