"""A BashOperator's last line of output as an XCom, read by a template and by a TaskFlow task.

Pattern: ``export_orders`` prints progress, then the row count as its LAST line; BashOperator
pushes that line (``do_xcom_push=True`` is the default). ``validate`` receives it through the
XComArg ``export_orders.output``; ``announce`` reads it in a Jinja template with
``{{ ti.xcom_pull(task_ids="export_orders") }}``; ``archive`` reads ``validate``'s result
through ``env`` and turns its own last line into a dict with ``output_processor``.

What can go wrong with XCom here:
- The XCom is whatever the last line happens to be: add ``echo done`` at the end of the script
  (or a tool that prints a warning; stderr is merged into stdout) and downstream gets "done".
- It is always a string: "37", not 37. ``validate`` must convert it; ``output_processor``
  can do it for you.
- Bash tasks that only print logs still push their last line; turn that off with
  ``do_xcom_push=False`` or the metadata DB fills with log lines nobody reads.
"""

import json
from datetime import datetime, timezone

from airflow.providers.standard.operators.bash import BashOperator

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task


@dag(dag_id="bash_last_line", schedule="@daily", catchup=False,
     start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), params={"n_orders": 37},
     tags=["example", "xcom"])
def bash_last_line():
    export_orders = BashOperator(
        task_id="export_orders",
        bash_command=(
            "echo 'exporting orders for {{ ds }}' >&2; "
            "seq 1 {{ params.n_orders }} "
            "| awk '{ printf \"%d,C%03d,%d\\n\", $1, $1 % 12, $1 * 137 % 9000 }' "
            "| wc -l"
        ),
    )

    @task
    def validate(row_count: str):
        rows = int(row_count)  # BashOperator XComs are strings
        if rows == 0:
            raise ValueError("export wrote no rows")
        return rows

    announce = BashOperator(
        task_id="announce",
        bash_command="echo \"exported {{ ti.xcom_pull(task_ids='export_orders') }} orders for {{ ds }}\"",
        do_xcom_push=False,
    )

    archive = BashOperator(
        task_id="archive",
        bash_command='echo "archiving $ROWS rows" >&2; echo "{\\"archived_rows\\": $ROWS}"',
        env={"ROWS": "{{ ti.xcom_pull(task_ids='validate') }}"},
        append_env=True,
        output_processor=json.loads,
    )

    validated = validate(export_orders.output)
    export_orders >> announce
    validated >> archive


bash_last_line()
