"""``pytest-xcom inspect DAG_FILE``: run a DAG once in the harness and print its XCom report.

``pytest-xcom diff OLD NEW``: compare two sets of XCom snapshots (see ``snapshots/crossdiff.py``).

``pytest-xcom watch [PYTEST_ARGS...]``: re-run tests after every edit, from a warm process (see ``watch/``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
from pathlib import Path

from pytest_xcom import gc_tuning
from pytest_xcom.errors import XComError
from pytest_xcom.isolation import env
from pytest_xcom.record.events import RETURN_KEY
from pytest_xcom.record.given import Given


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-xcom",
        description="Look at a DAG's XCom traffic without writing a test.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser(
        "inspect",
        help="run a DAG file once on an isolated in-memory metadata DB and print its XCom report",
    )
    inspect.add_argument("path", help="the DAG file")
    inspect.add_argument("--dag-id", help="which DAG, when the file defines several")
    inspect.add_argument("--html", metavar="PATH", help="also write the HTML report to PATH")
    inspect.add_argument("--logical-date", help="ISO date of the run (default 2026-01-01T00:00:00+00:00)")
    inspect.add_argument("--conf", help="the run conf, as a JSON object")
    inspect.add_argument(
        "--backend", default="db", help="XCom backend: db (default), s3, gcs, azure, or a dotted BaseXCom path"
    )
    inspect.add_argument(
        "--task",
        action="append",
        metavar="ID",
        dest="tasks",
        help="a partial run: run only this task (repeatable); every other task is marked success without running",
    )
    inspect.add_argument(
        "--given",
        action="append",
        metavar="TASK=JSON",
        default=[],
        help="an XCom a task that does not run would have pushed: its return value as JSON (repeatable); "
        "TASK:KEY=JSON for another key, TASK[2]=JSON for map index 2",
    )
    inspect.add_argument("--verbose", "-v", action="store_true", help="show Airflow's own log output")
    diff = commands.add_parser(
        "diff",
        help="compare two sets of XCom snapshots (e.g. written on Airflow 2 and on Airflow 3); "
        "exit 1 when what the DAGs see changed",
    )
    diff.add_argument("old", help="the old snapshots: a directory (e.g. tests/__xcom_snapshots__) or one file")
    diff.add_argument("new", help="the new snapshots: a directory or a file, as OLD")
    diff.add_argument("--html", metavar="PATH", help="also write the diff as a self-contained HTML page to PATH")
    # Parsed by pytest_xcom.watch.cli (its pytest arguments are not ours to parse); listed for --help.
    commands.add_parser(
        "watch",
        help="run pytest, then again after every change, each run forked from a warm process "
        "(pytest-xcom watch --help)",
    )
    return parser


def _diff(args: argparse.Namespace) -> int:
    """Exit 0: nothing the DAGs see changed (storage may have); 1: something did; 2: bad input."""
    from pytest_xcom.snapshots.crossdiff import diff_paths, render_text

    problem = _html_path_problem(args.html)
    if problem:
        print(f"pytest-xcom diff: --html {args.html}: {problem}", file=sys.stderr)
        return 2
    try:
        report = diff_paths(args.old, args.new)
    except XComError as exc:
        print(f"pytest-xcom diff: {exc}", file=sys.stderr)
        return 2
    print(render_text(report))
    if args.html:
        from pytest_xcom.reporting.diff_page import render_diff_html

        path = Path(args.html).expanduser().resolve()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_diff_html(report), encoding="utf-8")
        except OSError as exc:
            print(f"pytest-xcom diff: --html {args.html}: cannot write it ({exc.strerror or exc})", file=sys.stderr)
            return 2
        print(f"\nHTML diff written to {path}")
    return 1 if report.dag_changed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["watch"]:
        from pytest_xcom.watch.cli import main as watch_main

        return watch_main(argv[1:])
    gc_tuning.defer_collections()  # a one-shot process: the cold start is all there is
    args = _parser().parse_args(argv)
    if args.command == "diff":
        return _diff(args)
    try:
        conf = json.loads(args.conf) if args.conf else None
    except json.JSONDecodeError as exc:
        print(f"pytest-xcom: --conf is not valid JSON: {exc}", file=sys.stderr)
        return 2
    problem = _html_path_problem(args.html)
    if problem:
        print(f"pytest-xcom: --html {args.html}: {problem}", file=sys.stderr)
        return 2
    if args.given and not args.tasks:
        print(
            "pytest-xcom: --given needs --task: name the task(s) to run; every other task is marked success "
            "without running, and --given supplies the XComs they would have pushed",
            file=sys.stderr,
        )
        return 2
    try:
        args.upstream = [_given(text) for text in args.given] or None
    except ValueError as exc:
        print(f"pytest-xcom: {exc}", file=sys.stderr)
        return 2
    iso = env.isolate()
    try:
        return _inspect(iso, args, conf)
    finally:
        env.release(iso)


def _inspect(iso: env.IsolatedAirflow, args: argparse.Namespace, conf: dict | None) -> int:  # type: ignore[type-arg]
    # Imported here: Airflow must not be imported before env.isolate() has configured it.
    from pytest_xcom.harness import XComHarness
    from pytest_xcom.isolation.db import MetadataDB
    from pytest_xcom.isolation.gcs import GCSEmulator
    from pytest_xcom.isolation.s3 import MotoServer
    from pytest_xcom.isolation.services import MockedServices

    db = MetadataDB(iso)
    moto, gcs = MotoServer(), GCSEmulator()
    airflow_output = io.StringIO()
    try:
        with contextlib.ExitStack() as stack:
            if not args.verbose:
                stack.enter_context(contextlib.redirect_stdout(airflow_output))
            services = stack.enter_context(MockedServices(moto=moto, home=iso.root, gcs=gcs).active())
            harness = XComHarness(dags_folder=iso.dags_folder, services=services)
            stack.callback(harness.close)
            db.reset()
            dag = harness.load_dag(args.path, args.dag_id)
            run = harness.run(
                dag,
                logical_date=args.logical_date,
                conf=conf,
                backend=args.backend,
                tasks=args.tasks,
                upstream=args.upstream,
            )
    except (XComError, TypeError, ValueError) as exc:
        # The loader's advice is for Python callers; here the choice is a flag.
        message = str(exc).replace("pass dag_id= to choose one", "pass --dag-id to choose one")
        print(f"pytest-xcom: {message}", file=sys.stderr)
        return 2
    finally:
        db.close()
        moto.stop()
        gcs.stop()
    print(run.report())
    for where, text in run.failures.items():
        print(f"\n--- {where} failed ---\n{text.rstrip()}")
    if args.html:
        from pytest_xcom.reporting.terminal import Collected, write_html

        written = write_html(Collected([(f"inspect {args.path}", run)]), Path(args.html))
        print(f"\nHTML report written to {written}")
    if not run.succeeded:
        print(f"\nDAG run {run.dag_id!r} ended {run.state!r}", file=sys.stderr)
        return 1
    return 0


_GIVEN = re.compile(r"(?P<task>[^=\[\]:]+)(?:\[(?P<index>\d+)\])?(?::(?P<key>[^=]+))?=(?P<json>.*)", re.DOTALL)


def _given(text: str) -> Given:
    """``--given TASK=JSON`` (also ``TASK:KEY=JSON``, ``TASK[2]=JSON``) as a :class:`Given`."""
    match = _GIVEN.fullmatch(text)
    if match is None:
        raise ValueError(f"--given {text!r}: use TASK=JSON, e.g. --given 'extract={{\"rows\": 2}}'")
    try:
        value = json.loads(match["json"])
    except json.JSONDecodeError as exc:
        raise ValueError(f"--given {text!r}: the value is not valid JSON: {exc}") from None
    index = int(match["index"]) if match["index"] is not None else -1
    return Given(match["task"], value, key=match["key"] or RETURN_KEY, map_index=index)


def _html_path_problem(html: str | None) -> str | None:
    """Why the report could not be written to ``html`` (checked before the run, not after it)."""
    if not html:
        return None
    path = Path(html).expanduser()
    if path.is_dir():
        return "is a directory; name a file, e.g. --html xcom-report.html"
    parent = path.resolve().parent
    if parent.exists() and not os.access(parent, os.W_OK):
        return f"cannot write into {parent}"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
