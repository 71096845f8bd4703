"""``pytest-xcom watch [--path PATH]... [--once] [--clear | --no-clear] [PYTEST_ARGS...]``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pytest_xcom.watch.supervisor import Options, watch

USAGE = """\
usage: pytest-xcom watch [--path PATH]... [--once] [--clear | --no-clear] [--] [PYTEST_ARGS...]

Run pytest with PYTEST_ARGS, then again after every change under the watched paths, each run a
fork of one warm process that has pytest, the plugins and Airflow imported and built.

options:
  --path PATH   watch PATH (repeatable; default: the rootdir pytest finds)
  --once        after the first run, run once more after the next change and exit with its code
  --clear       clear the screen before each re-run (default when the output is a terminal)
  --no-clear    never clear the screen
  --            everything after it goes to pytest as it is
  -h, --help    show this message

Every other argument goes to pytest: -k, -x, --lf, --xcom-snapshot-update, --xcom-dags ...
"""

# Refused: the warm process's Airflow is configured for the embedded SQLite metadata DB.
_UNSUPPORTED = ("--xcom-db",)


def parse(argv: list[str]) -> Options | int:
    """The supervisor's options, or an exit code (help shown, or a usage error)."""
    options = Options(pytest_args=[], clear=sys.stdout.isatty())
    args = iter(argv)
    for arg in args:
        if arg == "--":
            options.pytest_args.extend(args)
            break
        if arg in ("-h", "--help"):
            print(USAGE, end="")
            return 0
        if arg == "--once":
            options.once = True
        elif arg in ("--clear", "--no-clear"):
            options.clear = arg == "--clear"
        elif arg == "--path" or arg.startswith("--path="):
            value = arg.partition("=")[2] if "=" in arg else next(args, None)
            if not value:
                return _usage_error("--path needs a path")
            path = Path(value).expanduser().resolve()
            if not path.exists():
                return _usage_error(f"--path {value}: no such file or directory")
            options.paths.append(path)
        elif arg.split("=", 1)[0] in _UNSUPPORTED:
            return _usage_error(
                f"{arg.split('=', 1)[0]} is not supported in watch mode: its warm process runs on the embedded "
                "SQLite metadata DB; run pytest itself with it"
            )
        else:
            options.pytest_args.append(arg)
    return options


def _usage_error(message: str) -> int:
    print(f"pytest-xcom watch: {message}\n\n{USAGE}", file=sys.stderr, end="")
    return 2


def main(argv: list[str]) -> int:
    if not hasattr(os, "fork"):
        print("pytest-xcom watch: needs os.fork(), which this platform (Windows) does not have", file=sys.stderr)
        return 2
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        print("pytest-xcom watch: needs watchfiles: pip install 'pytest-xcom[watch]'", file=sys.stderr)
        return 2
    options = parse(argv)
    return options if isinstance(options, int) else watch(options)
