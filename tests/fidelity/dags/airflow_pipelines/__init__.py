"""DAG package whose name starts with "airflow": freezegun's ``ignore`` matches module names by
prefix, so an ignore list holding "airflow" also leaves ``airflow_pipelines.*`` unfrozen (tests/test_frozen_time.py has its own ``airflow_dags``)."""
