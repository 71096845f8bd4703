"""Whole-repository mode (``--xcom-dags``): every DAG file in a folder checked and snapshotted, no test code.

- ``hookspecs``: ``pytest_xcom_dag_run(dag, path)``, per-DAG settings from a ``conftest.py``
- ``settings``: checking what that hook returns
- ``loading``: the DAG files, listed by Airflow's rules and imported once per process
- ``items``: the collector of a DAG file and its ``::import`` and ``::<dag_id>`` items
- ``snapshots``: where a DAG's snapshot lives, and which DAG snapshots are unused
- ``plugin``: the pytest plugin that adds the DAG folders to the collection
"""
