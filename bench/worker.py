"""The measurements that run inside Airflow, one fresh process per call (bench/run.py starts them).

    python bench/worker.py compare  --out F --repeat N --dag mixed --dag chain:50 [--initdbs K]
    python bench/worker.py template --out F
    python bench/worker.py scale    --out F --repeat N --dag mapped:1000 [--plain]
    python bench/worker.py backends --out F --repeat N --dag mixed

Every mode isolates Airflow with ``pytest_xcom.isolation.env.isolate()`` before anything imports it, and
writes its numbers as JSON to ``--out``: stdout belongs to Airflow's task logs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from pytest_xcom.isolation import env

Result = dict[str, Any]


class Timed(NamedTuple):
    wall: float
    cpu: float
    result: Any


class Bench:
    """One isolated Airflow environment, with the two ways of running a DAG side by side."""

    def __init__(self) -> None:
        self.iso = env.isolate()
        # Airflow (and everything importing it) only after isolate().
        from pytest_xcom.isolation.azure import Azurite
        from pytest_xcom.isolation.db import MetadataDB, cache_dir
        from pytest_xcom.isolation.gcs import GCSEmulator
        from pytest_xcom.isolation.s3 import MotoServer
        from pytest_xcom.isolation.services import MockedServices

        self.db = MetadataDB(self.iso)
        self.reset_seconds: list[float] = []
        started = time.perf_counter()
        self.db.prepare()
        self.prepare_seconds = time.perf_counter() - started
        # What the xcom_services fixture gives every test; the S3 mock starts only on demand
        # (never, with the default metadata-DB backend). Active around both kinds of run.
        moto, gcs, self.azurite = MotoServer(), GCSEmulator(), Azurite(cache_dir())
        self.services = MockedServices(moto=moto, home=self.iso.root, gcs=gcs, azurite=self.azurite)
        self._active = contextlib.ExitStack()
        for server in (moto, gcs, self.azurite):
            self._active.callback(server.stop)
        self._active.enter_context(self.services.active())

    def timed(self, run: Callable[[Any], Any], dag: Any) -> Timed:
        """Wall time, CPU time and result of ``run(dag)`` on a fresh DB (reset and GC not included).

        CPU time is this process's, all threads (the in-process API serves the task from its own
        thread): unlike wall time, it does not grow when other processes compete for the CPUs.
        The reset (after the previous run, as between two tests) is timed into ``reset_seconds``.
        """
        self.reset_seconds.append(self.timed_reset())
        gc.collect()  # cheap once settle() has frozen the warmed-up heap
        wall, cpu = time.perf_counter(), time.process_time()
        result = run(dag)
        return Timed(time.perf_counter() - wall, time.process_time() - cpu, result)

    def settle(self) -> None:
        """After the warm-up run: freeze the ~700k objects Airflow's imports left behind.

        A full collection of that heap takes about half a second; frozen, the collection before
        each timed run only sees what the runs themselves allocate. Same for both kinds of run.
        """
        gc.collect()
        gc.freeze()

    def timed_reset(self) -> float:
        """A fresh migrated DB from the cached template: what every test pays."""
        started = time.perf_counter()
        self.db.reset()
        return time.perf_counter() - started

    def timed_initdb(self) -> float:
        """A fresh migrated DB the way Airflow makes one (initdb), Airflow already imported."""
        from pytest_xcom import _airflow

        _airflow.dispose_engines()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.iso.db_path}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        _airflow.initdb()
        return time.perf_counter() - started

    def harness(self, dag: Any, backend: str | None = None) -> Any:
        """The harness's run: XComHarness.run (recording, record building, policy)."""
        from pytest_xcom.harness import XComHarness

        run = XComHarness(dags_folder=self.iso.dags_folder, services=self.services).run(dag, backend=backend)
        if not run.succeeded:
            raise RuntimeError(f"harness run of {dag.dag_id} ended {run.state}: {run.failures}")
        return run

    def harness_with_bridge(self, dag: Any) -> Any:
        """The harness's run with its opt-in ASGI bridge to the execution API (PYTEST_XCOM_ASGI_BRIDGE=1)."""
        from pytest_xcom._airflow.asgi_bridge import bridged

        with bridged():
            return self.harness(dag)

    def plain(self, dag: Any) -> None:
        """Plain dag.test(), with the DAG registered the same way the harness registers it.

        Airflow's own transport to the execution API (no ASGI bridge): the baseline is Airflow's.
        """
        from pytest_xcom import _airflow
        from pytest_xcom._airflow.asgi_bridge import no_bridge
        from pytest_xcom.recording import runner

        with _airflow.dag_registered_for_test(dag, str(self.iso.dags_folder)), no_bridge():
            dag_run = _airflow.run_dag_test(dag, logical_date=runner.DEFAULT_LOGICAL_DATE, conf=None)
        if _airflow.dag_run_state(dag_run) != "success":
            raise RuntimeError(f"plain run of {dag.dag_id} ended {_airflow.dag_run_state(dag_run)}")

    def close(self) -> None:
        self._active.close()
        self.db.close()
        env.release(self.iso)


def compare(bench: Bench, specs: list[str], repeat: int, initdbs: int) -> Result:
    """Harness vs plain dag.test() (and the harness with its opt-in ASGI bridge) on each DAG, rotating
    which goes first; round 0 is warm-up."""
    import dags

    if bench.db.template_built:
        raise RuntimeError("compare expects a warm template cache; run the template mode into it first")
    result: Result = {"prepare_seconds": bench.prepare_seconds, "dags": {}}
    for spec in specs:
        dag = dags.build(spec)
        variants = {"harness": bench.harness, "plain": bench.plain, "bridge": bench.harness_with_bridge}
        times: dict[str, list[float]] = {name: [] for variant in variants for name in (variant, f"{variant}_cpu")}
        names = list(variants)
        for pair in range(repeat + 1):
            order = names[pair % 3 :] + names[: pair % 3]  # rotate who goes first
            for name in order:
                timed = bench.timed(variants[name], dag)
                if pair > 0:
                    times[name].append(timed.wall)
                    times[f"{name}_cpu"].append(timed.cpu)
            if pair == 0:
                bench.settle()
        result["dags"][spec] = times
    result["reset_seconds"] = bench.reset_seconds[1:]  # the first one follows no run
    result["initdb_seconds"] = [bench.timed_initdb() for _ in range(initdbs)]
    return result


def backends(bench: Bench, spec: str, repeat: int) -> Result:
    """One DAG through the harness on each XCom backend (everything offloaded), rotating the order;
    round 0 is warm-up. Azure only where Azurite is installed (it is a Node.js package)."""
    import dags

    names = ["db", "s3", "gcs"] + (["azure"] if bench.azurite.executable() else [])
    dag = dags.build(spec)
    times: dict[str, list[float]] = {key: [] for name in names for key in (name, f"{name}_cpu")}
    for round_ in range(repeat + 1):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            timed = bench.timed(lambda d, name=name: bench.harness(d, backend=name), dag)
            if round_ > 0:
                times[name].append(timed.wall)
                times[f"{name}_cpu"].append(timed.cpu)
        if round_ == 0:
            bench.settle()
    return {"dag": spec, "backends": names, "times": times}


def template(bench: Bench) -> Result:
    """Cold cache (PYTEST_XCOM_CACHE_DIR empty): prepare() built the template in Bench()."""
    if not bench.db.template_built:
        raise RuntimeError(f"the template cache was not cold: {bench.db.template} already existed")
    return {"build_seconds": bench.prepare_seconds}


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
        return int(expansion.count)
    return len({push.task_id for push in run.pushes})


def scale(bench: Bench, spec: str, repeat: int, plain: bool) -> Result:
    """Harness runs of one large DAG, alternating with plain dag.test() runs when ``plain``.

    Peak RSS is Linux's high-water mark of this process; the first measured run is the harness's.
    """
    import dags

    bench.timed(bench.harness, dags.build("mapped:2"))  # warm-up: imports, the API app, mapping
    bench.settle()
    keys = ("seconds", "cpu", "plain_seconds", "plain_cpu", "recorded", "rss_peak_mib")
    result: Result = {key: [] for key in keys}
    result["rss_baseline_mib"] = _max_rss_mib()
    dag = dags.build(spec)

    def harness_run() -> None:
        timed = bench.timed(bench.harness, dag)
        result["seconds"].append(timed.wall)
        result["cpu"].append(timed.cpu)
        result["recorded"].append(_recorded(timed.result, spec))
        result["rss_peak_mib"].append(_max_rss_mib())

    def plain_run() -> None:
        timed = bench.timed(bench.plain, dag)
        result["plain_seconds"].append(timed.wall)
        result["plain_cpu"].append(timed.cpu)

    steps = [harness_run, plain_run] if plain else [harness_run]
    for index in range(repeat):
        for step in steps if index % 2 == 0 else steps[::-1]:
            step()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=("compare", "template", "scale", "backends"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dag", action="append", default=[])
    parser.add_argument("--initdbs", type=int, default=3, help="compare: timed in-process initdb runs")
    parser.add_argument("--plain", action="store_true", help="scale: alternate with plain dag.test() runs")
    args = parser.parse_args(argv)
    if args.mode == "scale":
        # Airflow refuses to map over more than [core] max_map_length (1,024) elements.
        biggest = max(int(spec.partition(":")[2] or 0) for spec in args.dag)
        os.environ["AIRFLOW__CORE__MAX_MAP_LENGTH"] = str(max(1024, biggest))
    bench = Bench()
    try:
        if args.mode == "compare":
            result = compare(bench, args.dag, args.repeat, args.initdbs)
        elif args.mode == "template":
            result = template(bench)
        elif args.mode == "backends":
            (spec,) = args.dag
            result = backends(bench, spec, args.repeat)
        else:
            (spec,) = args.dag
            result = scale(bench, spec, args.repeat, args.plain)
    finally:
        bench.close()
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
