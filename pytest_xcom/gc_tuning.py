"""Fewer garbage collections while Airflow starts up in the test process (issue #18, the cold start).

Importing Airflow and serving the first task (the in-process Execution API builds Cadwyn routers
for every API version) allocate millions of objects that live for the whole session. CPython's
default gen-0 threshold (700) runs a collection every 700 net allocations, and each one promotes
those survivors towards ever costlier full collections: about 15% of a one-test session's CPU.

So from the plugin's import until the first test has finished (its DAG runs included), gen 0 is
collected every 50,000 allocations; then the thresholds found at import come back and
``gc.freeze()`` moves what start-up built out of every later collection's way. Nothing that would
be collected is kept: collections only come later. Thresholds changed by the user in the meantime
are left as the user set them; ``PYTEST_XCOM_GC_TUNING=0`` turns all of this off.
"""

from __future__ import annotations

import gc
import os

STARTUP_THRESHOLD = 50_000
SWITCH = "PYTEST_XCOM_GC_TUNING"

_saved: tuple[int, ...] | None = None


def enabled() -> bool:
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def defer_collections() -> None:
    """Raise the gen-0 threshold for start-up (once per process; never lowers a higher one)."""
    global _saved
    if _saved is not None or not enabled():
        return
    current = gc.get_threshold()
    if current[0] >= STARTUP_THRESHOLD:
        return
    _saved = current
    gc.set_threshold(STARTUP_THRESHOLD, *current[1:])


def end_startup() -> None:
    """Give the thresholds back and freeze what start-up built (once; a no-op if nothing was raised)."""
    global _saved
    if _saved is None:
        return
    saved, _saved = _saved, None
    if gc.get_threshold()[0] != STARTUP_THRESHOLD:
        return  # someone set thresholds of their own since: theirs stand, and nothing is frozen
    gc.set_threshold(*saved)
    gc.freeze()
