"""Large values crossing the object-storage threshold: a daily export whose size varies.

``extract`` returns the day's events (tens of KB), ``summarize`` returns a few bytes. With
Airflow's object-storage XCom backend and a threshold, the events go to S3 and the metadata DB
keeps only a reference, while the summary stays inline. What can go wrong: the threshold is set
in the wrong unit, compression is forgotten, or a consumer receives the reference string instead
of the data.
"""

from datetime import datetime, timezone

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task


@dag(dag_id="large_values", schedule="@daily", catchup=False,
     start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), tags=["example", "xcom"])
def large_values():
    @task
    def extract(ds=None):
        return [{"event_id": i, "day": ds, "payload": "x" * 64} for i in range(400)]

    @task
    def summarize(events):
        return {"events": len(events), "day": events[0]["day"]}

    @task
    def publish(summary):
        return f"{summary['events']} events on {summary['day']}"

    publish(summarize(extract()))


large_values()
