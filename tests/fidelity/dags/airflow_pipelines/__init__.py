"""DAG package whose name starts with "airflow": freezegun's ``ignore`` matches module names by
prefix, so an ignore list holding "airflow" also leaves ``airflow_dags.*`` unfrozen."""
