"""The differential fidelity suite's cases, its plain-side runs and its comparison.

A case is one DAG, run twice: by ``plain_runner.py`` in a separate process (own AIRFLOW_HOME, own
SQLite DB, no pytest_xcom), and through the harness (``xcom.run``) in this process. They must
agree on the run state, every task instance's state and the xcom table's standing rows; and the
harness's record must agree with the rows it left (the standing push's ``stored``) and with what
reader tasks received (``run.value``). Nothing here imports pytest_xcom: the harness is reached
only through its fixtures and the XComRun it returns, in test_differential.py.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import Version
from plain_runner import read_run  # noqa: F401  (one reading of the DB for both sides)

from airflow_compat import AIRFLOW_VERSION

HERE = Path(__file__).absolute().parent
ROOT = HERE.parent.parent
RUNNER = HERE / "plain_runner.py"
FIDELITY_DAGS = HERE / "dags"
EXAMPLE_DAGS = ROOT / "example_dags"
TEST_DAG_FILES = ROOT / "tests" / "dag_files"

FROZEN_AT = "2026-03-01T12:00:00+00:00"
# A loopback port nothing listens on (discard): the harness side's Redis backend must be routed to
# the harness's fakeredis, never reach a server by itself.
UNREACHABLE_REDIS_PORT = "9"
PLAIN_TIMEOUT = 600  # seconds for one group's plain run (dag.test() can wait forever on a stuck task)


@dataclass(frozen=True)
class Case:
    id: str
    dag_id: str
    folder: Path  # the dags folder (bundle root) the file lives in; on sys.path
    module: str  # the DAG file's module name relative to ``folder``
    group: str = "db"  # the plain-side process (one per XCom backend configuration)
    load: str = "file"  # harness side: "file" = xcom.load_dag(path, dag_id); "module" = import by name
    compare_values: bool = True
    freeze_time: str | None = None
    plain: tuple | None = None  # (run state, (producer task, row prefix or None)): see plain_sanity
    xfail: str | None = None
    min_airflow: str | None = None  # the DAG needs this Airflow release (task loops: 3.4)
    run_tasks: tuple[str, ...] | None = None  # a partial run: only these run, the others are marked success

    @property
    def available(self) -> bool:
        return self.min_airflow is None or AIRFLOW_VERSION >= Version(self.min_airflow)

    @property
    def file(self) -> Path:
        return self.folder.joinpath(*self.module.split(".")).with_suffix(".py")

    @property
    def backend(self) -> str | None:
        return GROUPS[self.group].get("backend")


# One plain process per backend configuration (the backend is resolved once per process).
GROUPS: dict[str, dict[str, Any]] = {
    "db": {},
    "pickle": {"backend": "fidelity_backends.PickleXCom"},
    "codec": {"backend": "fidelity_backends.FrameCsvXCom"},
    "redis": {"backend": "fidelity_backends.RedisStrXCom", "store": "redis"},
    "files": {"backend": "fidelity_backends.FilePathXCom", "store": "files"},
    "storevalue": {"backend": "fidelity_backends.FileStoreXCom", "store": "files"},
    # Airflow's object-storage backend (common-io): the harness's "s3" on its moto server, the plain
    # side the same backend class on a moto server of its own.
    **{
        f"objectstorage-{name}": {
            "backend": name,
            "plain_backend": "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend",
            "store": name,
        }
        for name in ("s3", "gcs", "azure")
    },
}
OBJECT_STORES = ("s3", "gcs", "azure")
PLAIN_BUCKET = "fidelity-xcom"
HARNESS_BUCKET = "pytest-xcom"  # the harness's object-storage backends' default bucket and prefix "xcom"
HARNESS_CONN_IDS = {"s3": "pytest_xcom_s3", "gcs": "pytest_xcom_gcs", "azure": "pytest_xcom_azure"}

# Every DAG of example_dags/*.py and tests/dag_files/*.py (test_every_project_dag_is_covered keeps
# this list complete). Left out: tests/dag_files/broken_backends.py, which defines XCom backends
# for the contract suite and no DAG at all. None of these DAGs puts run ids or wall-clock times in
# an XCom (etl_orders' "extracted_at" and the ds-based paths come from the fixed logical date), so
# their values are compared as they are, with no normalisation.
PROJECT_CASES = [
    Case("example-bash_last_line", "bash_last_line", EXAMPLE_DAGS, "bash_last_line"),
    Case("example-classic_push_pull", "classic_push_pull", EXAMPLE_DAGS, "classic_push_pull"),
    Case("example-etl_orders", "etl_orders", EXAMPLE_DAGS, "etl_orders"),
    Case("example-exclusive_uri", "exclusive_uri", EXAMPLE_DAGS, "exclusive_uri"),
    Case("example-fan_out_fan_in", "fan_out_fan_in", EXAMPLE_DAGS, "fan_out_fan_in"),
    Case("example-large_values", "large_values", EXAMPLE_DAGS, "large_values"),
    Case("example-mapped_task_group", "mapped_task_group", EXAMPLE_DAGS, "mapped_task_group"),
    Case("example-token_handoff", "token_handoff", EXAMPLE_DAGS, "token_handoff"),
    Case("dag_files-failing", "failing", TEST_DAG_FILES, "failing_dag"),
    Case("dag_files-kinds", "kinds", TEST_DAG_FILES, "kinds_dag"),
    Case("dag_files-mapped", "mapped", TEST_DAG_FILES, "mapped_dag"),
    Case("dag_files-orders", "orders", TEST_DAG_FILES, "orders_dag"),
    Case("dag_files-alpha", "alpha", TEST_DAG_FILES, "two_dags"),
    Case("dag_files-beta", "beta", TEST_DAG_FILES, "two_dags"),
]
EXCLUDED_PROJECT_FILES = {
    TEST_DAG_FILES / "broken_backends.py": "XCom backends for the contract suite; defines no DAG",
}

# Fidelity DAGs are imported by module name on both sides (tests/fidelity/dags is on sys.path of
# both), so class paths that end up in stored values (a pickle, serde's __classname__) match.
# ``plain`` is what the plain run must show for the case to mean anything (its run state, and the
# producer's row as the backend wrote it): a plain side that silently ran without the backend would
# otherwise agree with a harness that gets the same thing wrong.
FIDELITY_CASES = [
    Case("a-pickle-backend", "fidelity_pickle", FIDELITY_DAGS, "fidelity_pickle", group="pickle", load="module",
         plain=("success", ("make", "gAS"))),
    Case("b-codec-backend", "fidelity_codec", FIDELITY_DAGS, "fidelity_codec", group="codec", load="module",
         plain=("success", ("make_frame", "frame-csv:"))),
    Case("c-unregistered-dataclass", "fidelity_dataclass", FIDELITY_DAGS, "fidelity_dataclass", load="module",
         plain=("failed", ("measure", None))),
    Case("d-redis-str-backend", "fidelity_redis", FIDELITY_DAGS, "fidelity_redis", group="redis", load="module",
         plain=("success", ("count", "redis-str://"))),
    Case("e-file-path-backend", "fidelity_files", FIDELITY_DAGS, "fidelity_files", group="files", load="module",
         plain=("success", ("export", "/"))),
    Case("f-retry", "fidelity_retry", FIDELITY_DAGS, "fidelity_retry", load="module",
         plain=("success", ("stage", None))),
    Case("g-frozen-clock", "fidelity_frozen_clock", FIDELITY_DAGS, "airflow_pipelines.frozen_clock", load="module",
         compare_values=False, freeze_time=FROZEN_AT, plain=("success", ("stamp", None))),
    # Plain dag.test() (Airflow 3.3.2) never pushes a trigger event's XComs. It runs the trigger inline
    # and resumes the task with the event's payload ("success" for TaskSuccessEvent); only the
    # triggerer's event handling (airflow/models/trigger.py) pushes event.xcoms. The harness agrees:
    # no "signal" row, no push, the reader gets None on both sides (run.trigger_xcoms notes them).
    Case("h-trigger-xcoms", "fidelity_trigger", FIDELITY_DAGS, "fidelity_trigger", load="module",
         plain=("success", ("wait", None))),
    Case("i-mapped-task-group", "fidelity_mapped_group", FIDELITY_DAGS, "fidelity_mapped_group", load="module",
         plain=("success", ("per_item.label", None))),
    # Its plain outcome depends on the Airflow release (3.3.2's transport fails the push): no fixed
    # expectation, only agreement.
    Case("j-non-ascii-key", "fidelity_unicode", FIDELITY_DAGS, "fidelity_unicode", load="module"),
    # Airflow 3.0's execution API fails a push of 'd/./x' or 's%2Fx' (its XCom route has no
    # {key:path}): 'label' fails after pushing 'f' and 'q', and the case checks that the harness
    # fails the same way. 3.3 and 3.4 push all four (checked); 3.1 and 3.2: agreement only.
    Case("k-url-keys", "fidelity_url_keys", FIDELITY_DAGS, "fidelity_url_keys", load="module",
         plain=("success", ("label", None)) if AIRFLOW_VERSION >= Version("3.3") else None),
    # Airflow 3.4: task loops, per-attempt XComs, a store_value backend.
    Case("l-loop-fixed", "fidelity_loop_fixed", FIDELITY_DAGS, "fidelity_loops", load="module",
         min_airflow="3.4", plain=("success", ("grow.double", None))),
    Case("m-loop-until", "fidelity_loop_until", FIDELITY_DAGS, "fidelity_loops", load="module",
         min_airflow="3.4", plain=("success", ("refine.estimate", None))),
    Case("n-loop-exhausted", "fidelity_loop_exhausted", FIDELITY_DAGS, "fidelity_loops", load="module",
         min_airflow="3.4", plain=("failed", ("spin.turn", None))),
    Case("o-loop-mapped", "fidelity_loop_mapped", FIDELITY_DAGS, "fidelity_loops", load="module",
         min_airflow="3.4", plain=("success", ("batch.square", None))),
    Case("p-loop-retry", "fidelity_loop_retry", FIDELITY_DAGS, "fidelity_loops", load="module",
         min_airflow="3.4", plain=("success", ("steps.step", None))),
    Case("q-store-value-backend", "fidelity_store_value", FIDELITY_DAGS, "fidelity_store_value", group="storevalue",
         load="module", min_airflow="3.4", plain=("success", ("produce", "file-store:"))),
    # Airflow's own object-storage backend stores through store_value from 3.4: same object paths
    # (per task instance attempt), same rows, on a loop, a mapped task and a retry.
    *(Case(f"r-object-storage-{name}", "fidelity_store_value", FIDELITY_DAGS, "fidelity_store_value",
           group=f"objectstorage-{name}", load="module", min_airflow="3.4",
           plain=("success", ("produce", f"{scheme}://")))
      for name, scheme in (("s3", "s3"), ("gcs", "gs"), ("azure", "abfs"))),
    # A partial run: the harness's tasks= against plain dag.test(mark_success_pattern=...) on the rest.
    Case("s-partial-run", "fidelity_partial", FIDELITY_DAGS, "fidelity_partial", load="module",
         run_tasks=("transform", "load"), plain=("success", ("transform", None))),
]


def plain_sanity(case: Case, plain: dict) -> list[str]:
    """What the plain run must show for this case to test anything (see ``Case.plain``)."""
    if case.plain is None:
        return []
    state, (producer, prefix) = case.plain
    problems = []
    if plain["state"] != state:
        problems.append(f"plain run state is {plain['state']!r}, expected {state!r}")
    rows = [v for t, _m, k, v in plain["xcoms"] if t == producer and k == "return_value"]
    if not rows:
        problems.append(f"plain run has no return_value row of {producer!r}")
    elif prefix is not None and not (isinstance(rows[0], str) and rows[0].startswith(prefix)):
        problems.append(f"{producer!r}'s row {rows[0]!r} was not written by {case.backend} (expected {prefix!r}...)")
    return problems


# Cases of the small backend groups first: their plain runs end first, and the harness side works
# through them while the "db" group (all the others) is still running.
ALL_CASES = sorted(FIDELITY_CASES, key=lambda case: case.group == "db") + PROJECT_CASES
CASES = [case for case in ALL_CASES if case.available]  # what the installed Airflow can run


# ---------------------------------------------------------------------------------------------
# The plain side: one process per group, shared by every xdist worker of the session.


def group_spec(group: str) -> list[dict[str, Any]]:
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for case in CASES:
        if case.group == group:
            entry = entries.setdefault((str(case.folder), case.module), {"dag_ids": [], "run_tasks": {}})
            entry["dag_ids"].append(case.dag_id)
            if case.run_tasks is not None:
                entry["run_tasks"][case.dag_id] = list(case.run_tasks)
    return [{"folder": folder, "module": module, **entry} for (folder, module), entry in entries.items()]


_STRIPPED_PREFIXES = ("AIRFLOW", "_AIRFLOW", "AWS_", "PYTEST", "XCOM_", "FIDELITY_", "PYTHON")


def plain_env(group: str, home: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment of a plain run: none of this process's Airflow/harness settings leak in."""
    spec = group_spec(group)
    env = {name: value for name, value in os.environ.items() if not name.startswith(_STRIPPED_PREFIXES)}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": spec[0]["folder"],
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": str(FIDELITY_DAGS),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    backend = GROUPS[group].get("plain_backend") or GROUPS[group].get("backend")
    if backend:
        env["AIRFLOW__CORE__XCOM_BACKEND"] = backend
    env.update(extra)
    return env


def object_store_replacements(store: str, conn_id: str, bucket: str) -> dict[str, str]:
    """A side's object-store connection and bucket in stored references become one placeholder."""
    return {f"{conn_id}@{bucket}": f"<{store.upper()}>"}


class PlainRuns:
    """Plain-side results per group, computed once per test session.

    The first process (xdist worker) to claim a group (an O_EXCL file in the session's shared temp
    directory) starts its plain run in the background; a thread there writes ``<group>.json`` when
    the run ends (with the backend's store, for Redis and file backends). The runner also writes
    ``<group>/progress/<dag_id>.json`` as each DAG finishes, so a test whose group keeps nothing
    outside the DB starts as soon as its own DAG is done. Each group runs once per session, and
    all of them run while the harness side's tests do.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._procs: list[subprocess.Popen] = []
        self._threads: list[threading.Thread] = []

    def launch(self, groups) -> None:
        for group in groups:
            claim = self.root / f"{group}.claim"
            try:
                os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            try:
                self._start(group)
            except BaseException as exc:
                self._write(group, {"failed": f"could not start the plain run: {exc!r}"})
                raise

    def _start(self, group: str) -> None:
        work = self.root / group
        home = work / "home"
        home.mkdir(parents=True)
        (work / "spec.json").write_text(json.dumps(group_spec(group), indent=1))
        extra: dict[str, str] = {}
        server = None
        store = GROUPS[group].get("store")
        if store == "redis":
            server = _start_tcp_fakeredis()
            extra = {"FIDELITY_REDIS_HOST": "127.0.0.1", "FIDELITY_REDIS_PORT": str(server.server_address[1])}
        elif store == "files":
            extra = {"FIDELITY_XCOM_DIR": str(work / "xcom-files")}
        elif store in OBJECT_STORES:
            server = PLAIN_STORE_SERVERS[store](work)
            extra = server.env()
        stdout = open(work / "stdout.json", "wb")
        stderr = open(work / "stderr.txt", "wb")
        (work / "progress").mkdir()
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), str(work / "spec.json"), str(work / "progress")],
            cwd=work,
            env=plain_env(group, home, extra),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
        self._procs.append(proc)
        done = threading.Event()
        timed_out = threading.Event()

        # No Python-level clock in these threads: a harness run with freeze_time patches
        # time.monotonic in every module it does not ignore (subprocess's and this one's too), and a
        # Popen.wait(timeout=...) running meanwhile would time out at once. Event.wait's timeout
        # and a blocking waitpid use the real clock.
        def watchdog() -> None:
            if not done.wait(PLAIN_TIMEOUT):
                timed_out.set()
                proc.kill()  # our own child, by its handle

        def finish() -> None:
            try:
                code: Any = proc.wait()
                done.set()
                if timed_out.is_set():
                    code = f"a timeout ({PLAIN_TIMEOUT} s; killed)"
                stdout.close()
                stderr.close()
                text = (work / "stdout.json").read_text()
                if code != 0 or not text.strip():
                    tail = (work / "stderr.txt").read_text(errors="replace")[-4000:]
                    self._write(group, {"failed": f"plain_runner exited with {code}:\n{tail}"})
                    return
                result = {"dags": json.loads(text), "store": {}}
                if store == "redis":
                    result["store"] = _dump_redis(server.server_address[1])
                elif store == "files":
                    result["store"] = dump_files(Path(extra["FIDELITY_XCOM_DIR"]))
                elif store in OBJECT_STORES:
                    result["store"] = server.dump()
                self._write(group, result)
            except BaseException as exc:  # never leave the waiters hanging
                self._write(group, {"failed": f"collecting the plain run failed: {exc!r}"})
            finally:
                if server is not None:
                    server.shutdown()
                    server.server_close()

        for target in (finish, watchdog):
            thread = threading.Thread(target=target, name=f"plain-{group}-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _write(self, group: str, result: dict[str, Any]) -> None:
        partial = self.root / f"{group}.json.partial"
        partial.write_text(json.dumps(result))
        os.replace(partial, self.root / f"{group}.json")

    def result(self, case: Case, timeout: float = 900) -> tuple[dict[str, Any], dict[str, str], Path]:
        """The plain run of ``case``'s DAG, the backend's store after its group, and the group's dir.

        A group whose backend keeps data outside the DB is read when its process has ended (its
        store is part of the result); otherwise each DAG's result is taken as soon as it is written.
        """
        group = case.group
        self.launch([group])
        final = self.root / f"{group}.json"
        progress = self.root / group / "progress" / f"{case.dag_id}.json"
        early = not GROUPS[group].get("store")
        for _ in range(int(timeout / 0.1)):  # counted sleeps, not a clock (see _start)
            # A DAG's own result first: how the rest of its group's process ended is not its business.
            if early and progress.exists():
                return json.loads(progress.read_text()), {}, self.root / group
            if final.exists():
                result = json.loads(final.read_text())
                if "failed" in result:
                    raise RuntimeError(f"plain run of group {group!r} failed: {result['failed']}")
                if case.dag_id not in result["dags"]:
                    raise RuntimeError(f"plain run of group {group!r} has no result for {case.dag_id!r}")
                return result["dags"][case.dag_id], result["store"], self.root / group
            time.sleep(0.1)
        raise TimeoutError(f"the plain run of group {group!r} did not finish in {timeout} s ({self.root})")

    def close(self, interrupted: bool = False) -> None:
        """Let the plain runs this process started finish, unless the session was interrupted.

        Under xdist another worker may still wait for a group this one started (and a Redis group's
        store lives in this process): killing it at this worker's end failed that worker's tests
        with "plain_runner exited with -9". The watchdog still ends a run after PLAIN_TIMEOUT.
        """
        if not interrupted:
            for thread in self._threads:
                thread.join()
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()  # only processes this object started, by their handle
        for thread in self._threads:
            thread.join(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _http(method: str, url: str, body: bytes | None = None) -> bytes:
    """A raw request to a loopback emulator (clients made in this process are the harness's)."""
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


class _PlainStore:
    """An object-store emulator for the plain side, in a process of its own (moto keeps its state per
    process, and the harness resets its own emulators at every test), with Airflow's object-storage
    backend pointed at it as the harness points it at its own: threshold 0, no compression."""

    scheme = ""
    conn_id = ""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        log = work / f"{type(self).__name__}.log"
        with open(log, "wb") as output:
            self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        for _ in range(600):  # counted sleeps, not a clock (see PlainRuns._start)
            if self._proc.poll() is not None:  # it will not start: say why, at once
                raise RuntimeError(f"the plain side's emulator exited ({self._proc.returncode}): {log.read_text()[-2000:]}")
            try:
                self.create_bucket()
                return
            except OSError:
                time.sleep(0.1)
        self.shutdown()
        raise RuntimeError(f"the {type(self).__name__} for the plain side did not start: {log.read_text()[-2000:]}")

    def command(self) -> list[str]:
        raise NotImplementedError

    def create_bucket(self) -> None:
        raise NotImplementedError

    def dump(self) -> dict[str, str]:
        """Every object in the bucket: key -> content (what the plain side's backend stored outside the DB)."""
        raise NotImplementedError

    def connection(self) -> dict[str, Any]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {
            "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"{self.scheme}://{self.conn_id}@{PLAIN_BUCKET}/xcom",
            "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "0",
            f"AIRFLOW_CONN_{self.conn_id.upper()}": json.dumps(self.connection()),
        }

    def shutdown(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()  # our own child, by its handle
        self._proc.wait()

    def server_close(self) -> None:
        pass


class _PlainS3(_PlainStore):
    scheme, conn_id = "s3", "fidelity_s3"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def create_bucket(self) -> None:
        _http("PUT", f"{self.endpoint}/{PLAIN_BUCKET}")

    def connection(self) -> dict[str, Any]:
        return {"conn_type": "aws", "login": "fidelity", "password": "fidelity",
                "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}}

    def env(self) -> dict[str, str]:
        credentials = {"AWS_ACCESS_KEY_ID": "fidelity", "AWS_SECRET_ACCESS_KEY": "fidelity"}
        return {**super().env(), **credentials, "AWS_DEFAULT_REGION": "us-east-1"}

    def dump(self) -> dict[str, str]:
        # A client signed with the plain side's credentials: moto refuses unsigned object reads.
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="fidelity",
                              aws_secret_access_key="fidelity", region_name="us-east-1")
        keys = [item["Key"] for item in client.list_objects_v2(Bucket=PLAIN_BUCKET).get("Contents", [])]
        return {k: client.get_object(Bucket=PLAIN_BUCKET, Key=k)["Body"].read().decode(errors="replace") for k in keys}


class _PlainGCS(_PlainStore):
    scheme, conn_id = "gs", "fidelity_gcs"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gcp_storage_emulator", "start", "-H", "127.0.0.1", "--port", str(self.port),
                "--in-memory", "-q"]

    def create_bucket(self) -> None:
        _http("POST", f"{self.endpoint}/storage/v1/b?project=fidelity", json.dumps({"name": PLAIN_BUCKET}).encode())

    def connection(self) -> dict[str, Any]:
        return {"conn_type": "google_cloud_platform",
                "extra": {"is_anonymous": True, "project": "fidelity", "gcs.endpoint": self.endpoint}}

    def env(self) -> dict[str, str]:
        unreachable = "127.0.0.1:9"  # the GCE metadata server: never asked
        return {**super().env(), "STORAGE_EMULATOR_HOST": self.endpoint, "GOOGLE_CLOUD_PROJECT": "fidelity",
                "NO_GCE_CHECK": "true", "GCE_METADATA_HOST": unreachable, "GCE_METADATA_IP": unreachable,
                "CLOUDSDK_CONFIG": str(self.work / "no-gcloud-config")}

    def dump(self) -> dict[str, str]:
        import urllib.parse

        listing = json.loads(_http("GET", f"{self.endpoint}/storage/v1/b/{PLAIN_BUCKET}/o"))
        names = sorted(item["name"] for item in listing.get("items", []))
        url = f"{self.endpoint}/download/storage/v1/b/{PLAIN_BUCKET}/o/{{}}?alt=media"
        return {name: _http("GET", url.format(urllib.parse.quote(name, safe=""))).decode(errors="replace")
                for name in names}


class _PlainAzure(_PlainStore):
    scheme, conn_id = "abfs", "fidelity_azure"
    # Azurite's well-known development account (published in Microsoft's documentation; not a secret).
    KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

    def command(self) -> list[str]:
        import shutil

        azurite = shutil.which("azurite-blob")
        if azurite is None:
            raise RuntimeError("Azurite (azurite-blob) is not installed: npm install -g azurite")
        # In memory: Azurite refuses --location with --inMemoryPersistence, and keeps nothing behind.
        return [azurite, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--silent",
                "--skipApiVersionCheck", "--inMemoryPersistence"]

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={self.KEY};"
                f"BlobEndpoint={self.endpoint}/devstoreaccount1;")

    def _client(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        # No retries: while Azurite starts, a refused connection must come back at once.
        return BlobServiceClient.from_connection_string(self.connection_string, retry_total=0)

    def create_bucket(self) -> None:
        from azure.core.exceptions import ServiceRequestError

        try:
            self._client().create_container(PLAIN_BUCKET)
        except ServiceRequestError as exc:  # not listening yet
            raise OSError(str(exc)) from exc

    def connection(self) -> dict[str, Any]:
        return {"conn_type": "wasb", "extra": {"connection_string": self.connection_string}}

    def env(self) -> dict[str, str]:
        return {**super().env(), "AZURE_STORAGE_CONNECTION_STRING": self.connection_string}

    def dump(self) -> dict[str, str]:
        container = self._client().get_container_client(PLAIN_BUCKET)
        return {blob.name: container.download_blob(blob.name).readall().decode(errors="replace")
                for blob in sorted(container.list_blobs(), key=lambda b: b.name)}


PLAIN_STORE_SERVERS = {"s3": _PlainS3, "gcs": _PlainGCS, "azure": _PlainAzure}


def _start_tcp_fakeredis():
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0), server_type="redis")
    threading.Thread(target=server.serve_forever, name="plain-fakeredis", daemon=True).start()
    return server


def _dump_redis(port: int) -> dict[str, str]:
    """The plain side's Redis contents, read over a raw socket.

    Not with a redis client: this runs in the pytest process, where the harness hands every Redis
    client made during a test its own fakeredis, so a client would read the wrong server.
    """
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        reader = sock.makefile("rb")

        def command(*args: str) -> Any:
            parts = [f"*{len(args)}\r\n".encode()]
            for arg in args:
                data = arg.encode()
                parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
            sock.sendall(b"".join(parts))
            return _resp_reply(reader)

        return {key.decode(): command("GET", key.decode()).decode() for key in sorted(command("KEYS", "fidelity:*"))}


def _resp_reply(reader: Any) -> Any:
    line = reader.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = reader.read(size + 2)[:-2]
        return data
    if kind == b"*":
        return [_resp_reply(reader) for _ in range(int(rest))]
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest
    raise RuntimeError(f"Redis error: {rest.decode(errors='replace')}")


def redis_contents(client: Any) -> dict[str, str]:
    return {key.decode(): client.get(key).decode() for key in sorted(client.keys("fidelity:*"))}


def dump_files(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# The comparison.


def split_position(position: Any) -> tuple[int, int | None]:
    """(map_index, iteration) of a row's position: an int, or "<map_index>@<iteration>" in a task loop."""
    if isinstance(position, str):
        map_index, _, iteration = position.partition("@")
        return int(map_index), int(iteration)
    return position, None


def plain_task_states(task_instances: list) -> dict[str, Any]:
    """The plain side's TIs in the shape of ``XComRun.task_states``: a list by map_index for mapped
    tasks, by iteration for tasks in a task loop (of lists by map_index where both).

    (A mapped task that expanded to nothing has only its map_index -1 TI, shown here as a single
    state where ``task_states`` has []; no DAG of the suite does that.)
    """
    by_task: dict[str, dict[tuple[int, int], Any]] = defaultdict(dict)
    for task_id, position, state in task_instances:
        map_index, iteration = split_position(position)
        by_task[task_id][(-1 if iteration is None else iteration, map_index)] = state
    shaped: dict[str, Any] = {}
    for task_id, states in by_task.items():
        iterations = sorted({i for i, _m in states if i >= 0})
        if iterations:
            per = [[s for (i, m), s in sorted(states.items()) if i == it] for it in iterations]
            mapped = any(m >= 0 for _i, m in states)
            shaped[task_id] = per if mapped else [p[0] for p in per]
            continue
        indexes = sorted(m for _i, m in states if m >= 0)
        shaped[task_id] = [states[(-1, i)] for i in indexes] if indexes else states.get((-1, -1))
    return shaped


def normalise(value: Any, replacements: dict[str, str]) -> Any:
    """Narrow, case-specific rewriting (the file backend's directory, which differs per side)."""
    if not replacements:
        return value
    text = json.dumps(value)
    for old, new in replacements.items():
        text = text.replace(json.dumps(old)[1:-1], new)
    return json.loads(text)


def _show(value: Any, width: int) -> str:
    text = "<missing>" if value is _MISSING else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def side_by_side(
    title: str, plain: dict, harness: dict, labels: tuple[str, str] = ("plain dag.test()", "harness"), width: int = 58
) -> list[str]:
    """Both sides in two columns, one line per key; '!!' marks a disagreement, full values follow."""
    keys = sorted(set(plain) | set(harness), key=repr)
    if all(plain.get(k, _MISSING) == harness.get(k, _MISSING) for k in keys):
        return []
    key_width = min(max((len(repr(k)) for k in keys), default=0), 48)
    lines = [f"{title}:", f"   {'':{key_width}}  {labels[0]:{width}} | {labels[1]}"]
    details = []
    for k in keys:
        left, right = plain.get(k, _MISSING), harness.get(k, _MISSING)
        mark = "  " if left == right else "!!"
        lines.append(f"{mark} {_show(k, key_width):{key_width}}  {_show(left, width):{width}} | {_show(right, width)}")
        if left != right and (len(repr(left)) > width or len(repr(right)) > width):
            details += [
                f"   {k!r}:",
                f"      {labels[0]}: {_show(left, 1500)}",
                f"      {labels[1]}: {_show(right, 1500)}",
            ]
    return lines + details


def compare_with_plain(case: Case, plain: dict, harness: dict, run: Any) -> list[str]:
    """Plain run vs harness run: run state, task instance states, xcom rows (or only their keys)."""
    lines: list[str] = []
    lines += side_by_side(
        "run state",
        {"dag_run.state": plain["state"], "run.state": plain["state"]},
        {"dag_run.state": harness["state"], "run.state": _state_text(run.state)},
    )
    lines += side_by_side(
        "task instances (task_id, map_index) -> state, as the task_instance table holds them",
        {(t, m): s for t, m, s in plain["task_instances"]},
        {(t, m): s for t, m, s in harness["task_instances"]},
    )
    lines += side_by_side(
        "run.task_states (task_id -> state; a list by map_index for mapped tasks)",
        plain_task_states(plain["task_instances"]),
        {task_id: _state_text(state) for task_id, state in run.task_states.items()},
    )
    if case.compare_values:
        lines += side_by_side(
            "xcom rows (task_id, map_index[@iteration], key) -> value as the DB holds it",
            {(t, m, k): v for t, m, k, v in plain["xcoms"]},
            {(t, m, k): v for t, m, k, v in harness["xcoms"]},
        )
        lines += side_by_side(
            "xcom rows of every attempt (task_id, map_index[@iteration], key, try_number) -> value (Airflow 3.4)",
            {(t, m, k, n): v for t, m, k, n, v in plain.get("attempt_xcoms", [])},
            {(t, m, k, n): v for t, m, k, n, v in harness.get("attempt_xcoms", [])},
        )
    else:
        lines += side_by_side(
            "xcom rows (task_id, map_index, key); values not compared for this case",
            {(t, m, k): "row" for t, m, k, _v in plain["xcoms"]},
            {(t, m, k): "row" for t, m, k, _v in harness["xcoms"]},
        )
    return lines


def compare_stores(plain_store: dict, harness_store: dict) -> list[str]:
    return side_by_side("what the backend stored outside the DB (key -> content)", plain_store, harness_store)


def _state_text(state: Any) -> Any:
    if isinstance(state, list):
        return [_state_text(s) for s in state]
    return None if state is None else str(getattr(state, "value", state))


def _error(exc: BaseException) -> str:
    return f"<{type(exc).__name__}: {exc}>"


def compare_record(harness: dict, run: Any) -> list[str]:
    """The harness's record vs the rows its own run left.

    For every standing row, the XCom that stands in the record (``run.pushed_by(task_id,
    map_index=..., iteration=...).get(key)``: the last push, which is what the DB holds) must have
    ``stored`` equal to the row's value; and every XCom the record has must have a row. Where each
    attempt keeps its rows (Airflow 3.4), every attempt's row must also be the last push of that
    attempt in the record, and every attempt's last push in the record must have its row.
    """
    rows = {(t, m, k): v for t, m, k, v in harness["xcoms"]}
    recorded: dict[tuple, Any] = {}
    for push in run.effective_pushes():
        recorded[(push.task_id, _position(push), push.key)] = None
    for task_id, position, key in set(rows) | set(recorded):
        map_index, iteration = split_position(position)
        try:
            push = run.pushed_by(task_id, map_index=map_index, iteration=iteration).get(key, map_index=map_index)
            recorded[(task_id, position, key)] = json.loads(json.dumps(push.stored, default=repr))
        except Exception as exc:
            recorded[(task_id, position, key)] = _error(exc)
    lines = side_by_side(
        "the harness's own DB rows vs its record (run.pushed_by(task_id, map_index=..., iteration=...).get(key).stored)",
        rows,
        recorded,
        labels=("xcom row in the harness's DB", "harness record: push.stored"),
    )
    if harness.get("attempt_xcoms"):
        every = {(t, m, k, n): v for t, m, k, n, v in harness["attempt_xcoms"]}
        last: dict[tuple, Any] = {}
        for push in sorted(run.pushes, key=lambda p: p.seq):
            last[(push.task_id, _position(push), push.key, push.try_number)] = json.loads(
                json.dumps(push.stored, default=repr)
            )
        lines += side_by_side(
            "every attempt's rows in the harness's DB vs the record's last push of each attempt (run.pushes)",
            every,
            last,
            labels=("xcom row in the harness's DB", "harness record: push.stored"),
        )
    return lines


def _position(push: Any) -> Any:
    return push.map_index if push.iteration is None else f"{push.map_index}@{push.iteration}"


def descriptions(value: Any) -> list[dict]:
    """Every ``fidelity_common.received(...)`` description inside a decoded reader result."""
    found = []
    if isinstance(value, dict):
        if "received_from" in value and "repr" in value:
            found.append(value)
        else:
            for item in value.values():
                found += descriptions(item)
    return found


def decode_row(group: str, value: Any, store: dict[str, str], xcom_dir: Path | None) -> Any:
    """A reader's result as the row (and the backend's store) hold it, decoded for inspection."""
    if group == "pickle" and isinstance(value, str):
        return pickle.loads(base64.b64decode(value))
    if group == "redis" and isinstance(value, str) and value.startswith("redis-str://"):
        raw = store.get(value[len("redis-str://"):])
        return None if raw is None else ast.literal_eval(raw)
    if group == "storevalue" and isinstance(value, str) and value.startswith("file-store:") and xcom_dir is not None:
        return decode_row("files", value[len("file-store:"):], store, xcom_dir)
    if group in ("files", "storevalue") and isinstance(value, str) and xcom_dir is not None:
        try:
            rel = str(Path(value).relative_to(xcom_dir))
        except ValueError:
            return value
        return json.loads(store[rel]) if rel in store else None
    return value


def compare_received(case: Case, harness: dict, run: Any, store: dict, xcom_dir: Path | None) -> list[str]:
    """What reader tasks received (their own returned description) vs the record's ``run.value(...)``.

    ``run.value`` is, by the contract, the value as downstream tasks receive it: the backend's
    ``deserialize_value`` of what was stored. Nothing standing in the record (a LookupError) agrees
    with a reader that received None (``xcom_pull`` of a missing XCom).
    """
    received: dict[str, Any] = {}
    recorded: dict[str, Any] = {}
    for (task_id, _map_index, _key), value in sorted((((t, m, k), v) for t, m, k, v in harness["xcoms"]), key=repr):
        for desc in descriptions(decode_row(case.group, value, store, xcom_dir)):
            source = desc["received_from"]
            where = f"{task_id} <- {source['task_id']}[{source['key']!r}]"
            try:
                if source.get("loop"):  # every iteration, as a reader outside the loop receives it
                    seen = run.loop(source["loop"]).values
                else:
                    seen = run.value(source["task_id"], source["key"])
            except LookupError as exc:
                if desc["repr"] == "None":
                    seen = None
                else:
                    recorded[where] = _error(exc)
                    received[where] = f"{desc['type']}: {desc['repr']}"
                    continue
            except Exception as exc:
                recorded[where] = _error(exc)
                received[where] = f"{desc['type']}: {desc['repr']}"
                continue
            if source["mapped"] or source.get("loop"):  # a lazy sequence: what matters is the items, in order
                received[where] = desc["repr"]
                recorded[where] = repr(list(seen))
            else:
                received[where] = f"{desc['type']}: {desc['repr']}"
                recorded[where] = f"{type(seen).__name__}: {seen!r}"
    return side_by_side(
        "what readers received (the description they returned) vs the harness record (run.value)",
        received,
        recorded,
        labels=("reader task received", "harness record: run.value(...)"),
    )
