"""(k) XCom keys a URL reads differently: on Airflow 3 the key travels unquoted in the execution
API's URL path, so the server stores ``q`` for ``q?x`` (the rest is a query string), ``f`` for
``f#x`` (a fragment), ``s/x`` for ``s%2Fx`` (percent-decoded) and ``d/x`` for ``d/./x``.

The harness recorded the keys as task code passed them, so its record named XComs that no row
held. The reader pulls with the same keys, so both sides read what the server stored under them
(with ``map_indexes=-1``: a pull of all map indexes puts ``/slice`` after the key, which a ``?`` in
the key turns into a query string, and Airflow then fails the reader on both sides).
"""

from fidelity_common import received

from airflow_compat import dag, task

# key as task code passes it -> key as Airflow 3's execution API stores it
KEYS = {"q?x": "q", "f#x": "f", "s%2Fx": "s/x", "d/./x": "d/x"}


@dag(dag_id="fidelity_url_keys", schedule=None)
def fidelity_url_keys():
    @task
    def label(ti=None):
        for key in KEYS:
            ti.xcom_push(key=key, value=f"pushed as {key}")
        return "labelled"

    @task
    def read(_, ti=None):
        return {
            stored: received(ti.xcom_pull(task_ids="label", key=key, map_indexes=-1), task_id="label", key=stored)
            for key, stored in KEYS.items()
        }

    read(label())


fidelity_url_keys_dag = fidelity_url_keys()
