"""The cold start of two builds of pytest-xcom, alternating: an older checkout against this one.

    git worktree add /tmp/pre18 9903f06^          # the build before issue #18's work
    python bench/cold_builds.py --baseline-src /tmp/pre18 --repeat 5

Both run with this interpreter and its installed Airflow; ``PYTHONPATH`` puts each checkout's
``pytest_xcom`` first, and each runs in its own directory (its own bench suite and pytest.ini).
Measured per round, which goes first alternating, the first round dropped: a cold one-test session
(``pytest -k test_prices_are_pushed`` in ``bench/suites/xcom``) and a cold ``pytest-xcom inspect
bench/suites/dags/prices.py``. Prints the median ratio (new / old) of wall and CPU times.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import procs
from stats import Summary, ratios

COMMANDS = {
    "one-test session": ["-m", "pytest", "bench/suites/xcom", "-k", "test_prices_are_pushed", "-q",
                         "-p", "no:randomly"],  # fmt: skip
    "pytest-xcom inspect": ["-m", "pytest_xcom.cli", "inspect", "bench/suites/dags/prices.py"],
}


def timed(src: Path, what: str, args: list[str]) -> procs.Finished:
    """One whole process run from ``src`` with its ``pytest_xcom`` first on the path."""
    return procs.timed([sys.executable, *args], env=procs.clean_env(PYTHONPATH=str(src)), cwd=src, what=what)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-src", type=Path, required=True, help="checkout of the older build")
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds (default 5)")
    options = parser.parse_args()
    if not (options.baseline_src / "pytest_xcom" / "__init__.py").is_file():
        raise SystemExit(f"{options.baseline_src} is not a pytest-xcom checkout (no pytest_xcom/__init__.py)")
    builds = {"old": options.baseline_src.resolve(), "new": procs.REPO}
    print(f"load average {os.getloadavg()[0]:.2f}; old = {builds['old']}, new = {builds['new']}")
    for what, args in COMMANDS.items():
        runs: dict[str, list[procs.Finished]] = {"old": [], "new": []}
        for round_index in range(options.repeat + 1):
            for name in ("old", "new") if round_index % 2 == 0 else ("new", "old"):
                finished = timed(builds[name], what, args)
                if round_index:  # the first round warms caches
                    runs[name].append(finished)
        new, old = runs["new"], runs["old"]
        wall = Summary.of(ratios([f.seconds for f in new], [f.seconds for f in old]))
        cpu = Summary.of(ratios([f.cpu_seconds for f in new], [f.cpu_seconds for f in old]))
        print(f"{what}: new {Summary.of([f.seconds for f in new]).format(' s')}, "
              f"old {Summary.of([f.seconds for f in old]).format(' s')} wall; "
              f"ratio new/old wall {wall.format(digits=3)}, CPU {cpu.format(digits=3)}")  # fmt: skip


if __name__ == "__main__":
    main()
