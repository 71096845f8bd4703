"""The measurements that run inside Airflow, one fresh process per call (bench/run.py starts them).

    python bench/worker.py compare  --out F --repeat N --dag mixed --dag chain:50 [--resets K] [--initdbs K]
    python bench/worker.py template --out F
    python bench/worker.py scale    --out F --repeat N --dag mapped:1000

Every mode isolates Airflow with ``pytest_xcom.env.isolate()`` before anything imports it, and
writes its numbers as JSON to ``--out``: stdout belongs to Airflow's task logs.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_xcom import env

Result = dict[str, Any]


class Bench:
    """One isolated Airflow environment, with the two ways of running a DAG side by side."""

    def __init__(self) -> None:
        self.iso = env.isolate()
        # Airflow (and everything importing it) only after isolate().
        from pytest_xcom.db import MetadataDB
        from pytest_xcom.services import MotoServer, TestServices

        self.db = MetadataDB(self.iso)
        started = time.perf_counter()
        self.db.prepare()
        self.prepare_seconds = time.perf_counter() - started
        # What the xcom_services fixture gives every test; the S3 mock starts only on demand
        # (never, with the default metadata-DB backend). Active around both kinds of run.
        self._moto = MotoServer()
        self.services = TestServices(moto=self._moto, home=self.iso.root)
        self._services_active = self.services.active()
        self._services_active.__enter__()

    def timed(self, run: Callable[[Any], Any], dag: Any) -> tuple[float, Any]:
        """Wall time and result of ``run(dag)`` on a fresh DB; the reset and a GC pass are not timed."""
        self.db.reset()
        gc.collect()
        started = time.perf_counter()
        result = run(dag)
        return time.perf_counter() - started, result

    def timed_reset(self) -> float:
        """A fresh migrated DB from the cached template: what every test pays."""
        started = time.perf_counter()
        self.db.reset()
        return time.perf_counter() - started

    def timed_initdb(self) -> float:
        """A fresh migrated DB the way Airflow makes one (initdb), Airflow already imported."""
        from pytest_xcom import _compat

        _compat.dispose_engines()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.iso.db_path}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        _compat.initdb()
        return time.perf_counter() - started

    def harness(self, dag: Any) -> Any:
        """The harness's run: XComHarness.run (recording, record building, policy)."""
        from pytest_xcom.harness import XComHarness

        run = XComHarness(dags_folder=self.iso.dags_folder, services=self.services).run(dag)
        if not run.succeeded:
            raise RuntimeError(f"harness run of {dag.dag_id} ended {run.state}: {run.failures}")
        return run

    def plain(self, dag: Any) -> None:
        """Plain dag.test(), with the DAG registered the same way the harness registers it."""
        from pytest_xcom import _compat, runner

        with _compat.dag_registered_for_test(dag, str(self.iso.dags_folder)):
            dag_run = _compat.run_dag_test(dag, logical_date=runner.DEFAULT_LOGICAL_DATE, conf=None)
        if _compat.dag_run_state(dag_run) != "success":
            raise RuntimeError(f"plain run of {dag.dag_id} ended {_compat.dag_run_state(dag_run)}")

    def close(self) -> None:
        self._services_active.__exit__(None, None, None)
        self._moto.stop()
        self.db.close()
        env.release(self.iso)


def compare(bench: Bench, specs: list[str], repeat: int, resets: int, initdbs: int) -> Result:
    """Harness vs plain dag.test() on each DAG, alternating which goes first; pair 0 is warm-up."""
    import dags

    if bench.db.template_built:
        raise RuntimeError("compare expects a warm template cache; run the template mode into it first")
    result: Result = {"prepare_seconds": bench.prepare_seconds, "dags": {}}
    for spec in specs:
        dag = dags.build(spec)
        variants = {"harness": bench.harness, "plain": bench.plain}
        times: dict[str, list[float]] = {"harness": [], "plain": []}
        for pair in range(repeat + 1):
            order = ("harness", "plain") if pair % 2 == 0 else ("plain", "harness")
            for name in order:
                elapsed, _ = bench.timed(variants[name], dag)
                if pair > 0:
                    times[name].append(elapsed)
        result["dags"][spec] = times
    result["reset_seconds"] = [bench.timed_reset() for _ in range(resets)]
    result["initdb_seconds"] = [bench.timed_initdb() for _ in range(initdbs)]
    return result


def template(bench: Bench) -> Result:
    """Cold cache (PYTEST_XCOM_CACHE_DIR empty): prepare() built the template in Bench()."""
    if not bench.db.template_built:
        raise RuntimeError(f"the template cache was not cold: {bench.db.template} already existed")
    return {"build_seconds": bench.prepare_seconds, "first_reset_seconds": bench.timed_reset()}


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _recorded(run: Any, spec: str) -> int:
    """How many elements the record holds: mapped expansions, or chain tasks that pushed."""
    import dags

    if spec.startswith("mapped:"):
        expansion = run.expansions("work")
        pushes = [push for push in run.pushes if push.task_id == "work"]
        if not expansion.count == len(pushes) == dags.elements(spec):
            raise AssertionError(
                f"{spec}: {expansion.count} expansions and {len(pushes)} pushes recorded, "
                f"expected {dags.elements(spec)}"
            )
        return expansion.count
    return len({push.task_id for push in run.pushes})


def scale(bench: Bench, spec: str, repeat: int) -> Result:
    """Harness runs of one large DAG; peak RSS is Linux's high-water mark for this process."""
    import dags

    bench.timed(bench.harness, dags.build("mapped:2"))  # warm-up: imports, the API app, mapping
    baseline = _max_rss_mib()
    dag = dags.build(spec)
    seconds, recorded, peaks = [], [], []
    for _ in range(repeat):
        elapsed, run = bench.timed(bench.harness, dag)
        seconds.append(elapsed)
        recorded.append(_recorded(run, spec))
        peaks.append(_max_rss_mib())
        del run
    return {"seconds": seconds, "recorded": recorded, "rss_baseline_mib": baseline, "rss_peak_mib": peaks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=("compare", "template", "scale"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dag", action="append", default=[])
    parser.add_argument("--resets", type=int, default=20, help="compare: timed template resets")
    parser.add_argument("--initdbs", type=int, default=3, help="compare: timed in-process initdb runs")
    args = parser.parse_args(argv)
    bench = Bench()
    try:
        if args.mode == "compare":
            result = compare(bench, args.dag, args.repeat, args.resets, args.initdbs)
        elif args.mode == "template":
            result = template(bench)
        else:
            (spec,) = args.dag
            result = scale(bench, spec, args.repeat)
    finally:
        bench.close()
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
