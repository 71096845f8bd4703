"""Where the time of a harness run goes, per task instance, across all of its threads.

    python bench/profile_run.py [--dag mixed] [--runs 5] [--rate 500] [--py-spy PATH]

Under ``dag.test()`` a task instance's work is spread over threads: the task runs in the main
thread, its Execution API calls are served by the in-process API's event-loop thread (and AnyIO
worker threads), and supervisor comms get threads of their own. A profiler that sees one thread
(cProfile, pyinstrument) shows the main thread waiting on a lock. This script therefore samples
every thread with py-spy (``pip install py-spy``), attached to its own process after a warm-up
run, while it makes ``--runs`` harness runs of the DAG. Samples whose innermost frame is a
blocking wait (select, Condition.wait, ...) are idle and dropped (py-spy already leaves out most
waiting threads; under load it counts some that wait for the CPU or the GIL).

Each sample is attributed twice: to the code that owns the work (pytest-xcom, the parts of
Airflow, the DAG's own task code) and to the library executing at the leaf (SQLAlchemy/SQLite,
logging, HTTP/ASGI plumbing, validation, ...). pytest-xcom's wrappers around Airflow methods are
transparent: time below ``recorder.send -> InProcessSupervisorComms.send`` is Airflow's.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from worker import Bench

DEFAULT_PY_SPY = Path("/work/bench-venvs/tools/bin/py-spy")

# Innermost frames that mean the thread is waiting, not working.
IDLE_LEAVES = {
    ("selectors.py", "select"), ("threading.py", "wait"), ("threading.py", "_wait_for_tstate_lock"),
    ("threading.py", "join"), ("queue.py", "get"), ("asgi.py", "wait"), ("_base.py", "result"),
    ("_base.py", "wait"),
}  # fmt: skip

# (pytest-xcom function, the Airflow function it wraps): frames below such a call are Airflow's.
PASS_THROUGH = {
    ("send", "send"), ("wrapped", "start"), ("xcom_pull", "xcom_pull"), ("resolve", "resolve"),
    ("run_dag_test", "test"), ("serialize_value", "serialize_value"), ("purge", "purge"),
    ("__init__", "__init__"), ("__init__", "bag_dag"),  # the one-DAG bag: registration, as for plain runs
}  # fmt: skip

OWNERS = (  # (label, path fragment), first match on the owning frame
    ("pytest-xcom: recorder", "pytest_xcom/recorder.py"),
    ("pytest-xcom: record building, harness", "pytest_xcom/"),
    ("Airflow: Execution API routes (handlers, their deps)", "airflow/api_fastapi/"),
    ("Airflow: task runner, supervisor, API client", "airflow/sdk/execution_time/"),
    ("Airflow: task runner, supervisor, API client", "airflow/sdk/api/"),
    ("Airflow: dag.test() loop, scheduling decisions", "airflow/sdk/definitions/dag.py"),
    ("Airflow: dag.test() loop, scheduling decisions", "airflow/models/"),
    ("Airflow: dag.test() loop, scheduling decisions", "airflow/ti_deps/"),
    ("Airflow: serialization of the DAG and values", "airflow/serialization/"),
    ("Airflow: serialization of the DAG and values", "airflow/sdk/serde/"),
    ("Airflow: other", "airflow/"),
    ("the DAG's task code", "bench/dags.py"),
)

LIBRARIES = (  # (label, path fragments), first match on the innermost frame
    ("SQLAlchemy + SQLite", ("sqlalchemy/", "sqlite3/")),
    ("logging (structlog, logging)", ("structlog/", "logging/", "airflow/sdk/log.py", "_shared/logging/")),
    ("HTTP/ASGI/thread plumbing (httpx, a2wsgi, starlette, fastapi, cadwyn, anyio, asyncio)",
     ("httpx/", "a2wsgi/", "starlette/", "fastapi/", "cadwyn/", "anyio/", "asyncio/", "threading.py",
      "queue.py", "concurrent/", "h11/")),
    ("validation (pydantic, msgspec, attrs)", ("pydantic", "msgspec", "attr/", "attrs/")),
    ("JSON, hashing, copying", ("json/", "hashlib", "copy.py", "email/")),
)  # fmt: skip


@dataclass(frozen=True)
class Frame:
    function: str  # qualified: "Recorder._wrap_send.<locals>.send"
    path: str  # below site-packages: "pytest_xcom/recorder.py"

    @classmethod
    def parse(cls, text: str) -> Frame:
        """``function (path:line)`` as py-spy writes it."""
        function, _, rest = text.partition(" (")
        return cls(function, rest.rstrip(")").rsplit(":", 1)[0].split("site-packages/")[-1])

    def in_(self, fragment: str) -> bool:
        return fragment in self.path

    @property
    def short(self) -> str:
        return self.function.rsplit(".", 1)[-1]

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def _owning_frame(frames: list[Frame]) -> Frame | None:
    """The innermost frame of application code (pytest-xcom, Airflow, task code) owning the work."""
    owner: Frame | None = None
    for frame in frames:  # root to leaf
        if not any(frame.in_(fragment) for _, fragment in OWNERS):
            continue
        ours_calling_airflow = (
            owner is not None and owner.in_("pytest_xcom/") and not frame.in_("pytest_xcom/")
        )
        if ours_calling_airflow and (owner.short, frame.short) not in PASS_THROUGH:  # type: ignore[union-attr]
            continue  # Airflow code pytest-xcom calls for its own purposes (serde, a query): ours
        owner = frame
    return owner


API_THREADS = ("InProcessExecutionAPI", "AnyIO worker thread")


def _owner_label(frame: Frame | None, thread: str) -> str:
    if frame is not None:
        for label, fragment in OWNERS:
            if frame.in_(fragment):
                return label
    if any(name in thread for name in API_THREADS):
        return "Airflow: Execution API plumbing (FastAPI, Cadwyn, AnyIO hand-offs, event loop)"
    return "no application frame (thread bootstrap, comms threads)"


def _library(leaf: Frame) -> str:
    for label, fragments in LIBRARIES:
        if any(leaf.in_(fragment) for fragment in fragments):
            return label
    return "the owning code itself"


@dataclass
class Breakdown:
    owners: collections.Counter[str]
    libraries: collections.Counter[str]
    inclusive: collections.Counter[str]
    samples: int
    idle: int


def analyze(raw: Path) -> Breakdown:
    owners: collections.Counter[str] = collections.Counter()
    libraries: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    samples = idle = 0
    for line in filter(None, raw.read_text().split("\n")):  # not splitlines(): frames may hold \x1c etc.
        stack, _, count_text = line.rpartition(" ")
        thread, *texts = stack.split(";")
        if not texts:
            continue
        count = int(count_text)
        frames = [Frame.parse(text) for text in texts]
        if thread.endswith("MainThread") and not any(f.function == "XComHarness.run" for f in frames):
            continue  # between runs (DB reset, gc.collect): not a run's work. Other threads only serve runs.
        if (frames[-1].filename, frames[-1].short) in IDLE_LEAVES:
            idle += count
            continue
        samples += count
        owner = _owning_frame(frames)
        owners[_owner_label(owner, thread)] += count
        libraries[_library(frames[-1])] += count
        marks = {
            "inside Execution API request handling (server side)": any(f.in_("airflow/api_fastapi/") for f in frames),
            "inside a SQLAlchemy Session.commit": any(f.in_("sqlalchemy/orm/session.py") and f.short == "commit"
                                                      for f in frames),
            "inside any SQLAlchemy call": any(f.in_("sqlalchemy/") for f in frames),
            "inside logging (structlog, logging)": any(f.in_("structlog/") or f.in_("/logging/") for f in frames),
            "inside pytest-xcom's own code (not pass-through)": owner is not None and owner.in_("pytest_xcom/"),
        }  # fmt: skip
        inclusive.update({mark: count for mark, hit in marks.items() if hit})
    return Breakdown(owners, libraries, inclusive, samples, idle)


def profile(spec: str, runs: int, rate: int, py_spy: Path, raw: Path, gil: bool) -> tuple[float, int]:
    """Warm up, attach py-spy to this process, make ``runs`` harness runs; wall time, instances."""
    bench = Bench()  # isolates Airflow: import the DAGs only after it
    try:
        import dags

        dag = dags.build(spec)
        bench.timed(bench.harness, dag)  # warm-up: imports, the in-process API app
        bench.settle()
        spy = subprocess.Popen(
            [py_spy, "record", "--pid", str(os.getpid()), "--threads", "--nonblocking", "--format", "raw",
             "--rate", str(rate), "--output", raw, *(["--gil"] if gil else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.0)  # let py-spy attach
        wall = sum(bench.timed(bench.harness, dag)[0] for _ in range(runs))
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=60)
        if not raw.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode()[-1000:]}")
    finally:
        bench.close()
    return wall, runs * dags.task_instances(spec)


def _table(title: str, counter: collections.Counter[str], rate: int, instances: int, total: int) -> list[str]:
    lines = [f"| {title} | ms per task instance | share |", "|---|---|---|"]
    for label, count in counter.most_common():
        lines.append(f"| {label} | {count / rate / instances * 1e3:.1f} | {count / total:.0%} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dag", default="mixed", help="mixed (11 instances), chain:N or mapped:N")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rate", type=int, default=500, help="samples per second per thread")
    found = shutil.which("py-spy")
    parser.add_argument("--py-spy", type=Path, default=Path(found) if found else DEFAULT_PY_SPY)
    parser.add_argument("--keep", type=Path, help="also keep py-spy's raw (collapsed-stack) output here")
    parser.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL")
    args = parser.parse_args(argv)
    if not args.py_spy.is_file():
        print(f"py-spy not found at {args.py_spy}: pip install py-spy, or pass --py-spy", file=sys.stderr)
        return 2
    raw = Path(tempfile.mkdtemp(prefix="pytest-xcom-profile-")) / "profile.txt"
    stdout = sys.stdout
    with open(os.devnull, "w") as quiet:
        sys.stdout = quiet  # Airflow's task logs
        try:
            wall, instances = profile(args.dag, args.runs, args.rate, args.py_spy, raw, args.gil)
        finally:
            sys.stdout = stdout
    result = analyze(raw)
    if args.keep:
        shutil.copyfile(raw, args.keep)
    shutil.rmtree(raw.parent, ignore_errors=True)
    busy = result.samples / args.rate
    print(
        f"DAG {args.dag}: {args.runs} harness runs, {instances} task instances, wall {wall:.2f} s "
        f"= {wall / instances * 1e3:.1f} ms per task instance"
    )
    print(
        f"busy samples: {busy:.2f} s over all threads ({result.idle / args.rate:.2f} s of idle waits dropped)\n"
    )
    for title, counter in (("owner (exclusive)", result.owners), ("library at the leaf (exclusive)", result.libraries),
                           ("cross-cutting (inclusive, overlapping)", result.inclusive)):  # fmt: skip
        print("\n".join(_table(title, counter, args.rate, instances, result.samples)), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
