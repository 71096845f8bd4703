"""Bad input around the metadata DB: each stops (or heals) with a message naming the fix.

``--xcom-db`` with a driver that is not installed, a string that is not a URL, an async driver URL;
a damaged cached schema template; a $PYTEST_XCOM_CACHE_DIR that cannot be written. Each case is a
row of the bad-input table (docs/reference/bad-input.md). None of them leaves a directory in /dev/shm.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent
PYTEST = [sys.executable, "-m", "pytest", "-p", "loopback_guard", "-p", "no:randomly", "-p", "no:cacheprovider"]

ONE_RUN = """
from airflow_compat import dag, task

@dag(schedule=None)
def one():
    @task
    def make():
        return 1
    make()

def test_one(xcom):
    xcom.run(one()).assert_succeeded()
"""

# Makes the drivers named in $BLOCKED_DRIVERS fail to import, as when they are not installed.
BLOCK_DRIVERS = """
import os, sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in os.environ.get("BLOCKED_DRIVERS", "").split(","):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _session(cwd: Path, *args: str, **environ: str | None) -> tuple[int, str]:
    """Run pytest in a subprocess; return its exit code and output, checking it left no directory."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS_DIR), str(cwd), os.environ.get("PYTHONPATH")])))
    for name, value in environ.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    process = subprocess.Popen(
        [*PYTEST, "-p", "no:xdist", *args], cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output, _ = process.communicate(timeout=300)
    left = sorted(Path("/dev/shm").glob(f"pytest-xcom-{process.pid}-*"))
    assert left == [], f"the session left {left}"
    return process.returncode, output


@pytest.mark.bad_input("xcom-db-driver-not-installed")
def test_a_missing_database_driver_names_the_extra_to_install(pytester):
    pytester.makepyfile(test_user=ONE_RUN, block_drivers=BLOCK_DRIVERS)
    # The README's test command does not install the MariaDB drivers (.ci/run adds them first):
    # without aiomysql the message must name it too.
    mysql_missing = "MySQLdb" if importlib.util.find_spec("aiomysql") else "MySQLdb, aiomysql"
    for url, blocked, expected in (
        (
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "psycopg2",
            "ERROR: --xcom-db postgresql://postgres@127.0.0.1:5432/postgres: the database driver module(s) psycopg2 "
            'cannot be imported: pip install "pytest-xcom[postgres]" (it installs the drivers Airflow uses: '
            "psycopg2-binary and asyncpg)",
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "asyncpg",
            "ERROR: --xcom-db postgresql://postgres@127.0.0.1:5432/postgres: the database driver module(s) asyncpg "
            'cannot be imported: pip install "pytest-xcom[postgres]" (it installs the drivers Airflow uses: '
            "psycopg2-binary and asyncpg)",
        ),
        (
            "mysql://root@127.0.0.1:3306/test",
            "MySQLdb",
            f"ERROR: --xcom-db mysql://root@127.0.0.1:3306/test: the database driver module(s) {mysql_missing} cannot "
            'be imported: pip install "pytest-xcom[mysql]" (it installs the drivers Airflow uses: mysqlclient and aiomysql)',
        ),
    ):
        code, output = _session(pytester.path, "-p", "block_drivers", f"--xcom-db={url}", BLOCKED_DRIVERS=blocked)
        assert code == pytest.ExitCode.USAGE_ERROR, output
        pytest.LineMatcher(output.splitlines()).fnmatch_lines([expected])
        assert "Traceback" not in output


@pytest.mark.bad_input("xcom-db-not-a-url")
def test_xcom_db_that_is_not_a_url(pytester):
    pytester.makepyfile(test_user=ONE_RUN)
    code, output = _session(pytester.path, "--xcom-db=not a url")
    assert code == pytest.ExitCode.USAGE_ERROR, output
    pytest.LineMatcher(output.splitlines()).fnmatch_lines(
        [
            "ERROR: --xcom-db 'not a url' is not a database URL: give the server's URL, e.g. "
            "postgresql://postgres@127.0.0.1:5432/postgres or mysql://root@127.0.0.1:3306/test"
        ]
    )
    assert "ArgumentError" not in output


@pytest.mark.bad_input("xcom-db-async-driver")
def test_xcom_db_with_an_async_driver(pytester):
    pytester.makepyfile(test_user=ONE_RUN)
    code, output = _session(pytester.path, "--xcom-db=postgresql+asyncpg://postgres:secret@127.0.0.1:5432/postgres")
    assert code == pytest.ExitCode.USAGE_ERROR, output
    pytest.LineMatcher(output.splitlines()).fnmatch_lines(
        [
            "ERROR: --xcom-db postgresql+asyncpg://postgres:***@127.0.0.1:5432/postgres names the async driver "
            "'asyncpg': give the sync URL (postgresql://... or postgresql+psycopg2://...); Airflow derives its "
            "async connection (postgresql+asyncpg) from it"
        ]
    )
    assert "MissingGreenlet" not in output and "secret" not in output


def _quick_check(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA quick_check").fetchone()[0]


@pytest.mark.bad_input("corrupt-schema-template")
def test_a_damaged_cached_template_is_rebuilt_saying_so_once(pytester, xcom_metadata_db, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    template = cache / Path(xcom_metadata_db.prepare()).name
    data = bytearray(Path(xcom_metadata_db.prepare()).read_bytes())
    data[len(data) // 3 : len(data) // 3 + 65536] = b"\xff" * 65536  # pages overwritten in the middle
    template.write_bytes(bytes(data))
    pytester.makepyfile(test_user=ONE_RUN + "\n\ndef test_two(xcom):\n    xcom.run(one()).assert_succeeded()\n")
    code, output = _session(pytester.path, "-W", "error::UserWarning", PYTEST_XCOM_CACHE_DIR=str(cache))
    assert code == 0, output
    assert "2 passed" in output
    assert output.count("SchemaTemplateWarning") == 1
    pytest.LineMatcher(output.splitlines()).fnmatch_lines(
        [f"*SchemaTemplateWarning: pytest-xcom: the cached schema template {template} was damaged (*malformed*); it was rebuilt."]
    )
    assert _quick_check(template) == "ok"
    code, output = _session(pytester.path, PYTEST_XCOM_CACHE_DIR=str(cache))  # the next session: nothing to say
    assert code == 0 and "SchemaTemplateWarning" not in output, output


@pytest.mark.bad_input("unwritable-cache-dir")
def test_an_unwritable_cache_dir(pytester, tmp_path):
    pytester.makepyfile(test_user=ONE_RUN)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    # Named by the variable: the user asked for that place, so the session stops and says so.
    code, output = _session(pytester.path, PYTEST_XCOM_CACHE_DIR=str(blocker / "cache"))
    assert code == pytest.ExitCode.USAGE_ERROR, output
    pytest.LineMatcher(output.splitlines()).fnmatch_lines(
        [
            f"ERROR: PYTEST_XCOM_CACHE_DIR='{blocker / 'cache'}' cannot hold pytest-xcom's schema template "
            "(NotADirectoryError: Not a directory): point it at a writable directory, or unset it to use *"
        ]
    )
    # The default location: the session builds its own template, with a warning naming the variable.
    code, output = _session(pytester.path, PYTEST_XCOM_CACHE_DIR=None, XDG_CACHE_HOME=str(blocker))
    assert code == 0, output
    pytest.LineMatcher(output.splitlines()).fnmatch_lines(
        [
            f"*SchemaTemplateWarning: pytest-xcom: the schema template cache {blocker / 'pytest-xcom'} cannot be "
            "written (NotADirectoryError: Not a directory); this session builds a template of its own (about a "
            "second). Set PYTEST_XCOM_CACHE_DIR to a writable directory to keep it between sessions.",
            "*1 passed*",
        ]
    )
