"""pytest-xcom's benchmark: every performance target of the design, measured side by side in one run.

    python bench/run.py              # full: 5 repeats (3 for scaling), up to 10,000 expansions, vs in-a-box
    python bench/run.py --quick      # smoke test (about 5 minutes on 2 cores): 1 repeat, small sizes
    python bench/run.py --repeat 9
    python bench/run.py --sections cold_start,xdist   # a subset (prints only, unless --output)

Prints the results as markdown and writes docs/explanation/benchmark-results.md and benchmark.png beside it (the chart
needs matplotlib; without it the chart is skipped). Run it with the interpreter of the
virtualenv that has pytest-xcom installed; the pytest-airflow-in-a-box comparison runs in the
virtualenv given by --inabox-venv (default .venv-inabox in the repository), which the benchmark
creates on first use with the same Airflow release. --quick prints only, unless --output is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from pytest_xcom.isolation.env import memory_dir  # importing pytest_xcom never imports Airflow

import inabox_venv
import procs
import report
import sections

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("fresh_db", "in_process", "backends", "cold_start", "watch", "sessions", "xdist", "dags", "scaling")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat, small sizes (CI smoke test)")
    parser.add_argument("--repeat", type=int, help="measured repeats per comparison (default 5, quick 1)")
    parser.add_argument(
        "--scale-repeat", type=int, help="repeats per scaling size (default min(repeat, 3), quick 1)"
    )
    parser.add_argument(
        "--inabox-venv",
        type=Path,
        default=Path(os.environ.get("BENCH_INABOX_VENV", inabox_venv.DEFAULT_PATH)),
        help="virtualenv with pytest-airflow-in-a-box and the same Airflow, created if missing "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="markdown file to write, the chart next to it as benchmark.png "
        "(default docs/explanation/benchmark-results.md; --quick writes only when given)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; write neither docs file")
    parser.add_argument("--scale-specs", help="scaling DAGs, comma-separated (default: mapped:10 ... chain:200)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated subset of %(default)s (default: all); a subset prints only, unless --output is given",
    )
    return parser


def plan_for(args: argparse.Namespace, scratch: Path) -> sections.Plan:
    repeat = args.repeat or (1 if args.quick else 5)
    scale_repeat = args.scale_repeat or (1 if args.quick else min(repeat, 3))
    if min(repeat, scale_repeat) < 1:
        raise SystemExit("--repeat and --scale-repeat must be at least 1")
    plan = sections.Plan(
        quick=args.quick,
        repeat=repeat,
        scale_repeat=scale_repeat,
        scratch=scratch,
        cache_dir=scratch / "template-cache",
        inabox_python=inabox_venv.python_of(args.inabox_venv),
    )
    if args.quick:
        quick_sizes = ("mapped:10", "mapped:100", "chain:20")
        return dataclasses.replace(
            plan, chain_length=20, scale_specs=quick_sizes, scale_plain=False, session_warmups=0
        )
    if args.scale_specs:
        plan = dataclasses.replace(plan, scale_specs=tuple(args.scale_specs.split(",")))
    return plan


def _version_in(python: Path, distribution: str) -> str:
    if not python.is_file():
        return "not installed"
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    done = subprocess.run([str(python), "-c", code], check=False, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def header(plan: sections.Plan, wall: float, load: tuple[float, float]) -> list[str]:
    mode = "quick" if plan.quick else "full"
    inabox = plan.inabox_python
    machine = (
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {platform.machine()}, {os.cpu_count()} CPUs · "
        f"Python {platform.python_version()} · apache-airflow {metadata.version('apache-airflow')} · "
        f"pytest-xcom {metadata.version('pytest-xcom')} · "
        f"pytest-airflow-in-a-box {_version_in(inabox, 'pytest-airflow-in-a-box')} "
        f"(with apache-airflow {_version_in(inabox, 'apache-airflow')}) · "
        f"1-minute load average {load[0]:.2f} at the start, {load[1]:.2f} at the end"
    )
    return [
        f"## Results ({mode} mode, {plan.repeat} measured repeat(s); whole benchmark {wall:.0f} s)",
        "",
        machine,
    ]


INTRO = """# Benchmark

`python bench/run.py` measures every performance target of the design (section 5) side by side in
one run and writes this file and `benchmark.png`; `--quick` is the CI smoke test (one repeat,
small sizes). `python bench/profile_run.py` shows where a harness run spends its time. How each
number is taken:

- **Wall and CPU time.** Every comparison reports the ratio of wall times and, where the two
  sides are separate runs, of CPU times (user + system of the process and all its threads, or of
  the subprocess and its children). On a quiet machine the two agree; when other processes
  compete for the CPUs (the header gives the load average) wall times spread widely and the CPU
  ratio is the one to read.
- **Recording overhead / cost per task instance**: one process (`bench/worker.py compare`)
  isolated with `pytest_xcom.isolation.env.isolate()`; every run starts on a fresh DB
  (`MetadataDB.reset()`, not timed). `XComHarness.run(dag)` and plain `dag.test()` alternate
  (which goes first swaps every pair) and the first pair is a dropped warm-up, after which the
  warmed-up heap is frozen (`gc.freeze()`) so that a GC pass before each run is cheap. Both
  register the DAG the same way (`_airflow.dag_registered_for_test`), so the difference is the
  recording. The ratio is taken per pair.
- **ASGI bridge**: the same worker also runs the harness with its opt-in ASGI bridge
  (`PYTEST_XCOM_ASGI_BRIDGE=1`) in the rotation; the harness by default and plain `dag.test()` use
  Airflow's own WSGI transport, so every "vs plain" row compares with Airflow as shipped.
- **Cold start**: whole processes from interpreter start, warm template cache: `pytest -k
  test_prices_are_pushed` in `bench/suites/xcom` (the edit-run loop) and (full mode) `pytest-xcom
  inspect bench/suites/dags/prices.py`, with every default start-up lever (GC tuning, newest
  API version first) against none, then each lever on and off (environment switches; the bridge
  too), alternating, ratio per round. Quick mode measures the one-test row with all levers only.
- **Watch mode**: one `pytest-xcom watch -q -k test_prices_are_pushed` process on a copy of
  `bench/suites/xcom`; each round appends a comment to the test file and times from that write to
  the re-run's summary line (read from the watch process's output as it comes, debounce included),
  then, alternating, a cold `pytest -k test_prices_are_pushed` process (the cold-start row's one
  test). Ratio per round; target at most 0.2.
- **Example suite, xdist** (full mode): `pytest example_dags -n 2` against the same suite serially,
  alternating whole processes; the target (-n 2 at least 1.6x faster) is a ratio of at most 0.625.
- **Fresh migrated DB**: the harness's warm-cache reset (closing the previous run's connections
  and copying the cached template) against Airflow's `initdb()` in the same process and against
  `airflow db migrate` as a subprocess (own `AIRFLOW_HOME`, SQLite file on the same memory
  filesystem). Cold cache: a new process with `PYTEST_XCOM_CACHE_DIR` pointing at an empty
  directory builds the template.
- **pytest session**: `bench/suites/xcom` and `bench/suites/inabox` hold the same six tests of
  the three DAG files in `bench/suites/dags`, written with each plugin; each whole `pytest`
  process is timed, the order rotates every round, and (full mode) one warm-up round is dropped.
  pytest-airflow-in-a-box runs from its own virtualenv with the same Airflow version:
  `python -m venv /work/bench-venvs/inabox && /work/bench-venvs/inabox/bin/pip install
  apache-airflow==<same> apache-airflow-providers-standard "pytest-airflow-in-a-box[airflow3]"`
  (or `--inabox-venv PATH`).
- **Whole repository**: `pytest --xcom-dags dags` over a generated repository of 50 small DAG files
  of the example kinds (`bench/dag_repository.py`; an import item and a run item with its snapshot
  per file; snapshots written beforehand), serially and with `-n 2`, against a plain script that
  imports each file and calls `dag.test()` on each DAG in one process (`bench/plain_dags.py`: the
  same ready metadata DB, each DAG registered as the harness registers it). Whole processes, order
  rotating; target: serial at most the plain script's time.
- **Scaling**: one process per DAG (`bench/worker.py scale`), warmed up with a 2-element mapped
  DAG; harness runs alternate with plain `dag.test()` runs of the same DAG (full mode). Peak RSS
  is the process's high-water mark (`ru_maxrss`), growth is the first measured (harness) run's
  peak over the warmed-up baseline; the marginal columns compare with the next smaller DAG of
  the same kind. Every mapped run asserts that the record holds all expansions. Full mode adds
  10,000 expansions (one harness run; plain `dag.test()` only up to 1,000 elements).
"""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="pytest-xcom-bench-", dir=memory_dir()))
    plan = plan_for(args, scratch)
    results = sections.Results()
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(
            f"warning: load average {load_before:.2f}: other processes will skew the timings", file=sys.stderr
        )
    started = time.perf_counter()

    def progress(step: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {step} ...", file=sys.stderr, flush=True)

    chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"--sections: unknown {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    try:
        migrate = None
        if "fresh_db" in chosen or "in_process" in chosen:
            progress("fresh metadata DB: airflow db migrate vs cold template cache")
            migrate = sections.fresh_db(plan, results)
        else:
            procs.worker("template", cache_dir=plan.cache_dir, scratch=plan.scratch)  # warm the cache
        if "in_process" in chosen and migrate is not None:
            progress("recording overhead, cost per task instance, ASGI bridge, warm template cache")
            sections.in_process(plan, results, migrate)
        if "backends" in chosen:
            progress("XCom backends: db, s3, gcs, azure, same DAG")
            sections.backends(plan, results)
        if "cold_start" in chosen:
            progress("cold start: one-test session and pytest-xcom inspect, each start-up lever on and off")
            sections.cold_start(plan, results)
        if "watch" in chosen:
            progress("watch mode: a re-run after a file change vs a cold one-test pytest process")
            sections.watch(plan, results)
        if "sessions" in chosen:
            progress("pytest sessions")
            problem = inabox_venv.ensure(args.inabox_venv)
            if problem:
                results.notes.append(f"pytest-airflow-in-a-box comparison skipped: {problem}")
            sections.sessions(plan, results)
        if "xdist" in chosen and not plan.quick:
            progress("example suite: -n 2 vs serial")
            sections.xdist(plan, results)
        if "dags" in chosen:
            progress(f"whole repository: pytest --xcom-dags, {sections.DAG_FILES} DAG files, serial, -n 2, plain")
            sections.dags(plan, results)
        if "scaling" in chosen:
            progress("scaling")
            sections.scaling(plan, results)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.perf_counter() - started
    tables = report.markdown(results, header(plan, wall, (load_before, os.getloadavg()[0])))
    print(tables)
    subset = set(chosen) != set(SECTIONS)
    output = args.output or (None if args.quick or subset else REPO / "docs" / "explanation" / "benchmark-results.md")
    if output is not None and not args.no_write:
        output.parent.mkdir(parents=True, exist_ok=True)
        png = output.with_suffix(".png")
        drawn, message = report.chart(results, png)
        print(message)
        report.write_doc(output, INTRO, tables, png if drawn else None)
        print(f"results written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
