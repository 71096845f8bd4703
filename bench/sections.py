"""The five measurements of the benchmark. Each returns rows for the report; none imports Airflow."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import procs
from stats import Summary, ratios

SUITES = procs.BENCH_DIR / "suites"
SUITE_TESTS = 6  # tests in each of bench/suites/xcom and bench/suites/inabox


@dataclass(frozen=True)
class Plan:
    """What one invocation measures, and how often."""

    quick: bool
    repeat: int
    scratch: Path  # temporary files, on the memory filesystem the harness uses too
    cache_dir: Path  # pytest-xcom's template cache for every warm-cache measurement
    inabox_python: Path
    overhead_dag: str = "mixed"
    chain_length: int = 50
    scale_specs: tuple[str, ...] = ("mapped:10", "mapped:100", "mapped:1000", "mapped:10000", "chain:200")
    scale_repeat: int = 3  # the 1,000-expansion DAG takes ~1.5 min a run, twice per repeat with plain
    scale_plain: bool = True  # also time plain dag.test() on each size (full mode)
    plain_up_to: int = 1000  # plain dag.test() only up to this many elements (10,000 takes minutes a run)
    session_warmups: int = 1

    def fresh_dir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.scratch))


@dataclass(frozen=True)
class Row:
    """One comparison: our time, the baseline's, their ratio and the design target for it."""

    section: str
    label: str  # short, for the chart
    what: str
    ours: Summary  # seconds
    baseline: Summary  # seconds
    ratio: Summary  # of wall times
    cpu_ratio: Summary | None = None  # of CPU times (process and children), where measured
    target: float | None = None  # the ratio's median must be at most this
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio.median <= self.target

    @property
    def cpu_met(self) -> bool | None:
        if self.target is None or self.cpu_ratio is None:
            return None
        return self.cpu_ratio.median <= self.target


@dataclass(frozen=True)
class ScaleRow:
    spec: str
    elements: int
    seconds: Summary
    per_element: Summary  # seconds per element
    plain: Summary | None  # plain dag.test() on the same DAG, same process
    ratio: Summary | None  # harness / plain wall time, per repeat
    cpu_ratio: Summary | None  # harness / plain CPU time, per repeat
    rss_peak_mib: float
    rss_growth_mib: float  # peak of the first measured run over the warmed-up baseline
    recorded: int


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    scaling: list[ScaleRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _paired(ours: list[float], baseline: list[float]) -> Summary:
    return Summary.of(ratios(ours, baseline))


def fresh_db(plan: Plan, results: Results) -> Summary:
    """Section 2, cold side: ``airflow db migrate`` vs building the template in a new process.

    The first cold build goes into ``plan.cache_dir``, the warm cache of every later step.
    Returns the ``airflow db migrate`` wall times.
    """
    migrate: list[procs.Finished] = []
    cold: list[procs.Finished] = []
    build: list[float] = []
    for index in range(plan.repeat):
        migrate.append(procs.airflow_db_migrate(plan.fresh_dir("migrate-")))
        cache_dir = plan.cache_dir if index == 0 else plan.fresh_dir("cold-cache-")
        data, finished = procs.worker("template", cache_dir=cache_dir, scratch=plan.scratch)
        cold.append(finished)
        build.append(data["build_seconds"])
    migrate_wall = [m.seconds for m in migrate]
    results.rows.append(
        Row(
            "Fresh migrated DB",
            "fresh DB, cold cache\nvs airflow db migrate",
            "harness, cold cache (whole process: imports, template build, copy) "
            "vs `airflow db migrate` (whole process)",
            Summary.of([c.seconds for c in cold]),
            Summary.of(migrate_wall),
            _paired([c.seconds for c in cold], migrate_wall),
            cpu_ratio=_paired([c.cpu_seconds for c in cold], [m.cpu_seconds for m in migrate]),
            note=f"Template build inside that process: {Summary.of(build).format(' s')}, "
            "once per Airflow version and machine. Both DB files on the same memory filesystem.",
        )
    )
    return Summary.of(migrate_wall)


def in_process(plan: Plan, results: Results, migrate: Summary) -> None:
    """Sections 1 and 3, and the warm side of 2: one worker, harness and plain dag.test() alternating."""
    chain = f"chain:{plan.chain_length}"
    data, _ = procs.worker(
        "compare", "--repeat", str(plan.repeat), "--dag", plan.overhead_dag, "--dag", chain,
        cache_dir=plan.cache_dir, scratch=plan.scratch,
    )  # fmt: skip
    paired = "Same process, alternating which goes first, first pair dropped; ratio per pair."
    overhead = data["dags"][plan.overhead_dag]
    results.rows.append(
        Row(
            "Recording overhead",
            "recording overhead\n(harness / dag.test)",
            "XComHarness.run vs plain dag.test(), 11-instance DAG (multiple_outputs, map over 4, explicit pulls)",
            Summary.of(overhead["harness"]),
            Summary.of(overhead["plain"]),
            _paired(overhead["harness"], overhead["plain"]),
            cpu_ratio=_paired(overhead["harness_cpu"], overhead["plain_cpu"]),
            target=1.10,
            note=paired,
        )
    )
    per_task = data["dags"][chain]
    n = plan.chain_length
    results.rows.append(
        Row(
            "Cost per task instance",
            "cost per task instance\n(harness / dag.test)",
            f"{n}-task TaskFlow chain, wall time / {n}: harness vs plain dag.test()",
            Summary.of(per_task["harness"]).scaled(1 / n),
            Summary.of(per_task["plain"]).scaled(1 / n),
            _paired(per_task["harness"], per_task["plain"]),
            cpu_ratio=_paired(per_task["harness_cpu"], per_task["plain_cpu"]),
            target=0.80,
            note=paired + " Both use Airflow's own WSGI transport to the execution API (the ASGI bridge is "
            "opt-in, next row).",
        )
    )
    results.rows.append(
        Row(
            "Cost per task instance",
            "ASGI bridge\n(harness with / without)",
            f"{n}-task chain: the harness with its opt-in ASGI bridge (`PYTEST_XCOM_ASGI_BRIDGE=1`) vs the "
            "harness with Airflow's WSGI transport (the default)",
            Summary.of(per_task["bridge"]).scaled(1 / n),
            Summary.of(per_task["harness"]).scaled(1 / n),
            _paired(per_task["bridge"], per_task["harness"]),
            cpu_ratio=_paired(per_task["bridge_cpu"], per_task["harness_cpu"]),
            note=paired,
        )
    )
    reset = Summary.of(data["reset_seconds"])
    results.rows.append(
        Row(
            "Fresh migrated DB",
            "fresh DB, warm cache\nvs airflow db migrate",
            "harness, warm cache (MetadataDB.reset after a DAG run, what every test pays) vs `airflow db migrate`",
            reset,
            migrate,
            reset.ratio_to(migrate),
            target=0.10,
            note="Ratio range: min/max and max/min of the two independent series.",
        )
    )
    initdb = Summary.of(data["initdb_seconds"])
    results.rows.append(
        Row(
            "Fresh migrated DB",
            "fresh DB, warm cache\nvs initdb() in-process",
            "harness, warm cache (MetadataDB.reset) vs Airflow's initdb() in the same process",
            reset,
            initdb,
            reset.ratio_to(initdb),
            note="Airflow already imported on both sides: the schema work alone.",
        )
    )
    results.notes.append(
        "Once per pytest process, MetadataDB.prepare() finds the cached template: "
        f"{data['prepare_seconds'] * 1e3:.0f} ms (warm cache)."
    )


def _session(python: Path, suite: str, cache_dir: Callable[[], Path] | None) -> Callable[[], procs.Finished]:
    """A timed pytest process on one suite (with pytest-xcom's cache dir, for our suite)."""

    def run() -> procs.Finished:
        env = procs.clean_env(PYTEST_XCOM_CACHE_DIR=str(cache_dir())) if cache_dir else procs.clean_env()
        return procs.pytest_session(python, SUITES / suite, expected_passed=SUITE_TESTS, env=env)

    return run


def sessions(plan: Plan, results: Results) -> None:
    """Section 4: whole pytest processes, the same six DAG tests with each plugin."""
    if not plan.inabox_python.is_file():
        return  # run.py could not create the virtualenv and said why in the notes
    ours = Path(sys.executable)
    runs = {
        "xcom": _session(ours, "xcom", lambda: plan.cache_dir),
        "inabox": _session(plan.inabox_python, "inabox", None),
    }
    if not plan.quick:
        runs["xcom_cold"] = _session(ours, "xcom", lambda: plan.fresh_dir("session-cold-cache-"))
    done: dict[str, list[procs.Finished]] = {name: [] for name in runs}
    names = list(runs)
    for index in range(plan.session_warmups + plan.repeat):
        for name in names[index % len(names) :] + names[: index % len(names)]:  # rotate who goes first
            finished = runs[name]()
            if index >= plan.session_warmups:
                done[name].append(finished)

    def row(name: str, label: str, what: str, **extra: Any) -> Row:
        wall, baseline = [f.seconds for f in done[name]], [f.seconds for f in done["inabox"]]
        cpu = _paired([f.cpu_seconds for f in done[name]], [f.cpu_seconds for f in done["inabox"]])
        return Row("pytest session", label, what, Summary.of(wall), Summary.of(baseline), _paired(wall, baseline),
                   cpu_ratio=cpu, **extra)  # fmt: skip

    results.rows.append(
        row("xcom", "pytest session\nvs in-a-box",
            f"{SUITE_TESTS} DAG tests, whole `pytest` process: pytest-xcom vs pytest-airflow-in-a-box", target=1.00,
            note="Warm template cache; each plugin in its own virtualenv, same Airflow; "
            "order rotates, ratio per round.")
    )  # fmt: skip
    if "xcom_cold" in done:
        results.rows.append(
            row("xcom_cold", "pytest session, cold\ncache, vs in-a-box",
                "the same, pytest-xcom with a cold template cache (first run after install)")
        )  # fmt: skip


def scaling(plan: Plan, results: Results) -> None:
    """Section 5: large DAGs through the harness (and plain dag.test()), one process per size."""
    for spec in plan.scale_specs:
        elements = int(spec.partition(":")[2])
        plain_flag = ["--plain"] if plan.scale_plain and elements <= plan.plain_up_to else []
        repeat = plan.scale_repeat if elements <= plan.plain_up_to else 1
        data, _ = procs.worker(
            "scale", "--repeat", str(repeat), "--dag", spec, *plain_flag,
            cache_dir=plan.cache_dir, scratch=plan.scratch,
        )  # fmt: skip
        if any(count != elements for count in data["recorded"]):
            raise AssertionError(
                f"{spec}: recorded {data['recorded']} elements, expected {elements} every run"
            )
        seconds = Summary.of(data["seconds"])
        plain = data["plain_seconds"]
        results.scaling.append(
            ScaleRow(
                spec=spec,
                elements=elements,
                seconds=seconds,
                per_element=seconds.scaled(1 / elements),
                plain=Summary.of(plain) if plain else None,
                ratio=_paired(data["seconds"], plain) if plain else None,
                cpu_ratio=_paired(data["cpu"], data["plain_cpu"]) if plain else None,
                rss_peak_mib=max(data["rss_peak_mib"]),
                rss_growth_mib=data["rss_peak_mib"][0] - data["rss_baseline_mib"],
                recorded=data["recorded"][0],
            )
        )


COLD_TEST = "test_prices_are_pushed"  # the edit-run loop: one test of bench/suites/xcom
INSPECT_DAG = SUITES / "dags" / "prices.py"
SWITCHES = {"with": {"PYTEST_XCOM_ASGI_BRIDGE": "1"}, "without": {}}
GC_SWITCHES = {"with": {}, "without": {"PYTEST_XCOM_GC_TUNING": "0"}}
NEWEST_API_SWITCHES = {"with": {}, "without": {"PYTEST_XCOM_EAGER_API_VERSIONS": "1"}}
# Every default-on cold-start lever of issue #18 off: the cold start as it was before them.
ALL_LEVERS_SWITCHES = {"with": {}, "without": {**GC_SWITCHES["without"], **NEWEST_API_SWITCHES["without"]}}
# (row label, the two environments, what the lever is, target): each measured on vs off, alternating.
# The target (0.5x the cold start before #18) is for all of them together; quick mode
# measures that row only.
COLD_START_LEVERS = (
    ("all levers", ALL_LEVERS_SWITCHES, "every default cold-start lever (GC tuning, newest API version first)", 0.50),
    ("newest API first", NEWEST_API_SWITCHES,
     "the execution API generating its newest version's routes first (pytest_xcom/_airflow/api_versions.py)", None),
    ("GC tuning", GC_SWITCHES, "the start-up garbage-collector tuning (pytest_xcom/gc_tuning.py)", None),
    ("bridge", SWITCHES, "the opt-in ASGI bridge", None),
)


Runs = dict[str, Callable[[], procs.Finished]]


def _alternating(plan: Plan, runs: Runs, warmups: int) -> dict[str, list[procs.Finished]]:
    """Each run once per round, which goes first rotating; the first ``warmups`` rounds dropped."""
    done: dict[str, list[procs.Finished]] = {name: [] for name in runs}
    names = list(runs)
    for index in range(warmups + plan.repeat):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            finished = runs[name]()
            if index >= warmups:
                done[name].append(finished)
    return done


def _switch_row(section: str, label: str, what: str, done: dict[str, list[procs.Finished]], **extra: Any) -> Row:
    wall = {name: [f.seconds for f in runs] for name, runs in done.items()}
    cpu = {name: [f.cpu_seconds for f in runs] for name, runs in done.items()}
    ratio, cpu_ratio = _paired(wall["with"], wall["without"]), _paired(cpu["with"], cpu["without"])
    return Row(section, label, what, Summary.of(wall["with"]), Summary.of(wall["without"]), ratio,
               cpu_ratio=cpu_ratio, **extra)  # fmt: skip


def cold_start(plan: Plan, results: Results) -> None:
    """Whole processes from a cold interpreter: one test, and ``pytest-xcom inspect``, each with and
    without a start-up lever (an environment variable switches it), alternating: all default levers
    together, then each (see COLD_START_LEVERS)."""
    python = Path(sys.executable)

    def one_test(switch: dict[str, str]) -> Callable[[], procs.Finished]:
        env = procs.clean_env(PYTEST_XCOM_CACHE_DIR=str(plan.cache_dir), **switch)
        return lambda: procs.pytest_session(python, SUITES / "xcom", expected_passed=1, env=env, args=("-k", COLD_TEST))

    def inspect(switch: dict[str, str]) -> Callable[[], procs.Finished]:
        env = procs.clean_env(PYTEST_XCOM_CACHE_DIR=str(plan.cache_dir), **switch)
        return lambda: procs.timed([python, "-m", "pytest_xcom.cli", "inspect", INSPECT_DAG], env=env,
                                   what="pytest-xcom inspect")  # fmt: skip

    note = "Warm template cache; whole process from interpreter start; order rotates, ratio per round."
    for lever, switches, meaning, target in COLD_START_LEVERS[:1] if plan.quick else COLD_START_LEVERS:
        done = _alternating(plan, {name: one_test(switch) for name, switch in switches.items()}, plan.session_warmups)
        results.rows.append(_switch_row(
            "Cold start", f"one-test session\n({lever} / none)",
            f"`pytest -k {COLD_TEST}` (one test, cold process): {meaning} on vs off",
            done, target=target, note=note))  # fmt: skip
        if plan.quick:
            continue  # the inspect rows are full mode only
        done = _alternating(plan, {name: inspect(switch) for name, switch in switches.items()}, plan.session_warmups)
        results.rows.append(_switch_row(
            "Cold start", f"pytest-xcom inspect\n({lever} / none)",
            f"`pytest-xcom inspect bench/suites/dags/prices.py` (cold process): {meaning} on vs off",
            done, target=target, note=note))  # fmt: skip


def xdist(plan: Plan, results: Results) -> None:
    """The example DAG suite as CI runs it: ``pytest example_dags -n 2`` vs serial (full mode)."""
    python = Path(sys.executable)

    def suite(*args: str) -> Callable[[], procs.Finished]:
        env = procs.clean_env(PYTEST_XCOM_CACHE_DIR=str(plan.cache_dir))
        return lambda: procs.pytest_session(python, procs.REPO / "example_dags", expected_passed=None, env=env,
                                            args=("-p", "no:randomly", *args), cwd=procs.REPO)  # fmt: skip

    done = _alternating(plan, {"with": suite("-n", "2"), "without": suite()}, 0)
    results.rows.append(_switch_row(
        "Example suite, xdist", "example suite\n-n 2 / serial",
        "`pytest example_dags -n 2` vs the same suite serially (whole processes)", done, target=1 / 1.6,
        note="Target: -n 2 faster than serial by at least 1.6x, i.e. a ratio of at most 0.625. "
        f"{os.cpu_count()} CPUs shared with whatever else runs; order rotates."))  # fmt: skip


def backends(plan: Plan, results: Results) -> None:
    """The per-run cost of each XCom backend next to the metadata DB, one worker, rotating order."""
    data, _ = procs.worker(
        "backends", "--repeat", str(plan.repeat), "--dag", plan.overhead_dag,
        cache_dir=plan.cache_dir, scratch=plan.scratch,
    )  # fmt: skip
    times = data["times"]
    for name in data["backends"][1:]:
        results.rows.append(Row(
            "XCom backends", f"{name} / db\n(per run)",
            f"the same DAG ({plan.overhead_dag}) through the harness on `{name}` (threshold 0: every XCom "
            "offloaded to its emulator) vs on `db`",
            Summary.of(times[name]), Summary.of(times["db"]), _paired(times[name], times["db"]),
            cpu_ratio=_paired(times[f"{name}_cpu"], times["db_cpu"]),
            note="Same process, order rotating each round, first round dropped; ratio per round.",
        ))  # fmt: skip
    if "azure" not in data["backends"]:
        results.notes.append("azure backend row skipped: Azurite is not installed (npm install -g azurite)")


DAG_FILES = 50  # the generated repository of the dags section


def dags(plan: Plan, results: Results) -> None:
    """Whole-repository mode: `pytest --xcom-dags` over 50 generated DAG files, serial and -n 2,
    against a plain script calling dag.test() on each DAG in one process (bench/plain_dags.py)."""
    import dag_repository

    root = plan.fresh_dir("dag-repository-")
    dag_repository.write(root / "dags", DAG_FILES)
    python = Path(sys.executable)
    env = procs.clean_env(PYTEST_XCOM_CACHE_DIR=str(plan.cache_dir))
    expected = f"{2 * DAG_FILES} passed"  # an import item and a run item per file

    def repository(*args: str) -> Callable[[], procs.Finished]:
        def run() -> procs.Finished:
            cmd = [python, "-m", "pytest", "--xcom-dags", "dags", "-p", "no:randomly", "-q", *args]
            finished = procs.timed(cmd, env=env, cwd=root, what="pytest --xcom-dags")
            last = finished.output.strip().splitlines()[-1] if finished.output.strip() else ""
            if not last.startswith(expected) or " failed" in last or " error" in last:
                tail = finished.output[-3000:]
                raise procs.BenchProcessError(f"pytest --xcom-dags did not report {expected!r}:\n{tail}")
            return finished

        return run

    def plain() -> procs.Finished:
        script = [python, procs.BENCH_DIR / "plain_dags.py", root / "dags"]
        return procs.timed(script, env=env, what="plain dag.test() script")

    repository("--xcom-snapshot-update")()  # not timed: writes the snapshots every later run compares with
    done = _alternating(plan, {"serial": repository(), "xdist": repository("-n", "2"), "plain": plain}, 0)
    wall = {name: [f.seconds for f in runs] for name, runs in done.items()}
    cpu = {name: [f.cpu_seconds for f in runs] for name, runs in done.items()}
    note = (
        f"{DAG_FILES} generated DAG files of the example kinds (bench/dag_repository.py), snapshots written "
        "beforehand; whole processes, order rotating. The plain script gets the same ready metadata DB and "
        "registers each DAG as the harness does, so dag.test() does not parse the folder before every run."
    )

    def row(label: str, what: str, ours: str, baseline: str, **extra: Any) -> Row:
        return Row("Whole repository", label, what, Summary.of(wall[ours]), Summary.of(wall[baseline]),
                   _paired(wall[ours], wall[baseline]), cpu_ratio=_paired(cpu[ours], cpu[baseline]), note=note,
                   **extra)  # fmt: skip

    results.rows.append(row(
        "--xcom-dags, serial\n/ plain script",
        f"`pytest --xcom-dags dags` ({DAG_FILES} files: import + run + snapshot per DAG) vs a plain script calling "
        "dag.test() on each DAG in one process", "serial", "plain", target=1.00))  # fmt: skip
    results.rows.append(row(
        "--xcom-dags, -n 2\n/ serial", "`pytest --xcom-dags dags -n 2` vs the same serially (the -n 2 speed-up)",
        "xdist", "serial"))  # fmt: skip
    results.rows.append(row(
        "--xcom-dags, -n 2\n/ plain script", "`pytest --xcom-dags dags -n 2` vs the plain script", "xdist", "plain"))


def watch(plan: Plan, results: Results) -> None:
    """Watch mode: from a file change to the re-run's summary line (``pytest-xcom watch``), against a
    cold ``pytest`` process running the same one test, alternating, ratio per round."""
    import shutil

    project = plan.fresh_dir("watch-")
    for suite in ("xcom", "dags"):  # a copy: the rounds edit the test file
        shutil.copytree(SUITES / suite, project / suite)
    suite = project / "xcom"
    test_file = suite / "test_prices.py"
    python = Path(sys.executable)
    env = procs.clean_env(PYTEST_XCOM_CACHE_DIR=str(plan.cache_dir))
    args = ("-q", "-k", COLD_TEST)
    watcher = procs.Watcher(python, suite, env=env, args=args)
    try:
        watcher.wait_for(watcher.is_ready, 1)
        runs = 1

        def rerun() -> procs.Finished:
            nonlocal runs
            cpu = watcher.runs_cpu()
            started = time.perf_counter()
            with test_file.open("a") as edit:
                edit.write(f"# edit {runs}\n")
            runs += 1
            seen = watcher.wait_for(watcher.is_summary, runs)
            watcher.wait_for(watcher.is_ready, runs)  # ready for the next edit before the next round
            last = [line for _, line in watcher.lines if watcher.is_summary(line)][-1]
            if not last.startswith("1 passed"):
                raise procs.BenchProcessError(f"pytest-xcom watch re-run did not pass: {last}")
            return procs.Finished(seen - started, watcher.runs_cpu() - cpu, last)

        def cold() -> procs.Finished:
            return procs.pytest_session(python, suite, expected_passed=1, env=env, args=("-k", COLD_TEST))

        done = _alternating(plan, {"with": rerun, "without": cold}, plan.session_warmups)
    finally:
        watcher.stop()
    results.rows.append(_switch_row(
        "Watch mode", "watch re-run\n/ cold pytest",
        f"`pytest-xcom watch -k {COLD_TEST}`: from a file change to the re-run's summary line, vs a cold "
        f"`pytest -k {COLD_TEST}` process (the same one test)",
        done, target=0.20,
        note="Warm template cache; alternating, ratio per round. Re-run CPU: the forked run's own (the warm "
        "process's reaped children), cold CPU: the whole process. The re-run includes the debounce "
        "(50 ms without a further change)."))  # fmt: skip
