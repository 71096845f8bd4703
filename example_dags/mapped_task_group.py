"""Per-region processing with a mapped ``@task_group`` (``per_region.expand(region=...)``).

Pattern: ``active_regions`` returns the regions to process; the whole ``per_region`` group is
expanded over them, so every task inside it runs once per region, at the same map index. Inside
the group, ``convert`` reads ``fetch_sales`` of ITS OWN map index only. ``summarize`` then
receives the group's output (``convert``) for every region as one list.

What can go wrong with XCom here:
- Each task in the group pushes one XCom per region: a group of three tasks over four regions
  is twelve XCom rows.
- The mapped argument (``region``) is read by every task in the group that uses it, at every map
  index: move the region list and every instance of those tasks changes.
- The fan-in gets the regions in map-index order, i.e. the order of the upstream list, not
  sorted; key the summary by region rather than relying on position.
- Airflow 3.2 to 3.3.x (apache/airflow#69036): when the group expands ONCE, the task outside it
  receives the bare value (here a dict) instead of a one-element list, so ``for row in ...``
  iterates the dict's keys. ``summarize`` wraps it back; the single-region test guards this.
"""

import random
from datetime import datetime, timezone

try:
    from airflow.sdk import dag, task, task_group
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.decorators import dag, task, task_group

EUR_PER_UNIT = {"eu": 1.0, "us": 0.92, "uk": 1.17, "apac": 0.0061}  # apac sales in JPY


@dag(
    dag_id="mapped_task_group",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"regions": ["eu", "us", "apac"]},
    tags=["example", "xcom"],
)
def mapped_task_group():
    @task
    def active_regions(params=None):
        unknown = set(params["regions"]) - set(EUR_PER_UNIT)
        if unknown:
            raise ValueError(f"no exchange rate for regions {sorted(unknown)}")
        return list(params["regions"])

    @task_group
    def per_region(region):
        @task
        def fetch_sales(region, ds=None):
            rng = random.Random(f"{region}-{ds}")
            scale = 150 if region == "apac" else 1
            return [rng.randint(10, 400) * scale for _ in range(25)]

        @task
        def convert(amounts, region):
            return {"region": region, "revenue_eur": round(sum(amounts) * EUR_PER_UNIT[region], 2)}

        return convert(fetch_sales(region), region)

    @task
    def summarize(per_region_revenue):
        if isinstance(per_region_revenue, dict):  # apache/airflow#69036, see the docstring
            per_region_revenue = [per_region_revenue]
        by_region = {row["region"]: row["revenue_eur"] for row in per_region_revenue}
        return {"regions": sorted(by_region), "revenue_eur": round(sum(by_region.values()), 2)}

    summarize(per_region.expand(region=active_regions()))


mapped_task_group()
