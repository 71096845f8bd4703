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
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "one-test session": ["-m", "pytest", "bench/suites/xcom", "-k", "test_prices_are_pushed", "-q",
                         "-p", "no:randomly"],  # fmt: skip
    "pytest-xcom inspect": ["-m", "pytest_xcom.cli", "inspect", "bench/suites/dags/prices.py"],
}


def timed(src: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one whole process run from ``src`` with its ``pytest_xcom`` first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XCOM")}
    env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=src, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {src} (exit {done.returncode}):\n{done.stdout[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-src", type=Path, required=True, help="checkout of the older build")
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds (default 5)")
    options = parser.parse_args()
    if not (options.baseline_src / "pytest_xcom" / "__init__.py").is_file():
        raise SystemExit(f"{options.baseline_src} is not a pytest-xcom checkout (no pytest_xcom/__init__.py)")
    builds = {"old": options.baseline_src.resolve(), "new": REPO}
    print(f"load average {os.getloadavg()[0]:.2f}; old = {builds['old']}, new = {builds['new']}")
    for what, args in COMMANDS.items():
        times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
        for round_index in range(options.repeat + 1):
            for name in ("old", "new") if round_index % 2 == 0 else ("new", "old"):
                measured = timed(builds[name], args)
                if round_index:  # the first round warms caches
                    times[name].append(measured)
        wall = [new[0] / old[0] for new, old in zip(times["new"], times["old"], strict=True)]
        cpu = [new[1] / old[1] for new, old in zip(times["new"], times["old"], strict=True)]
        print(f"{what}: new {statistics.median(t[0] for t in times['new']):.2f} s, "
              f"old {statistics.median(t[0] for t in times['old']):.2f} s wall; "
              f"ratio new/old wall {_spread(wall)}, CPU {_spread(cpu)}")  # fmt: skip


if __name__ == "__main__":
    main()
