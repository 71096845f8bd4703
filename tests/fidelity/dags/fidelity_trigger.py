"""(h) A deferrable task whose trigger event carries XComs, and a reader of that XCom."""

from fidelity_common import received
from fidelity_triggers import ImmediateXComTrigger

from airflow_compat import BaseOperator, dag, task


class WaitForSignal(BaseOperator):
    def execute(self, context):
        self.defer(
            trigger=ImmediateXComTrigger(xcoms={"signal": {"rows": 3, "source": "trigger"}}),
            method_name="execute_complete",
        )

    def execute_complete(self, context, event=None):
        return {"resumed_with_event": repr(event)}  # what the resumed task was handed


@dag(dag_id="fidelity_trigger", schedule=None)
def fidelity_trigger():
    wait = WaitForSignal(task_id="wait")

    @task
    def read(ti=None):
        return {
            "signal": received(ti.xcom_pull(task_ids="wait", key="signal"), task_id="wait", key="signal"),
            "return_value": received(ti.xcom_pull(task_ids="wait"), task_id="wait"),
        }

    wait >> read()


fidelity_trigger_dag = fidelity_trigger()
