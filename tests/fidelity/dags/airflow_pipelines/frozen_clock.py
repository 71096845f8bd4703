"""(g) Tasks that read the wall clock: under ``xcom.run(dag, freeze_time=...)`` they must see the frozen time."""

from datetime import datetime, timezone

from fidelity_common import received

from airflow_compat import dag, task


@dag(dag_id="fidelity_frozen_clock", schedule=None)
def fidelity_frozen_clock():
    @task
    def stamp():
        now = datetime.now(timezone.utc)
        return {"iso": now.isoformat(), "day": now.date().isoformat()}

    @task
    def stamp_object():
        return datetime.now(timezone.utc)  # a datetime object (freezegun's FakeDatetime when frozen)

    @task
    def read(stamped, moment):
        return {"stamp": received(stamped, task_id="stamp"), "stamp_object": received(moment, task_id="stamp_object")}

    read(stamp(), stamp_object())


fidelity_frozen_clock_dag = fidelity_frozen_clock()
