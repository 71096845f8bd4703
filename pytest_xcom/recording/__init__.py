"""Running DAGs with recording on: loading DAG files, the runner, the recorder, measurements."""
