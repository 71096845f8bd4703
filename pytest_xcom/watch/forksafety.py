"""What would make a fork of the warm process unsafe: threads, sockets, running event loops, DB connections.

A fork copies only the thread that calls it: a lock another thread held stays locked forever in the
child, and a socket or pooled DB connection would be shared by two processes. The warm process
checks this list before every fork and refuses to fork when it is not empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import psutil

from pytest_xcom._airflow.warm import open_db_connections


def fork_hazards() -> list[str]:
    """What this process holds that a forked child must not inherit (empty: safe to fork)."""
    hazards = []
    threads = threading.enumerate()
    if len(threads) > 1:
        hazards.append(f"{len(threads)} threads: {', '.join(sorted(t.name for t in threads))}")
    with contextlib.suppress(psutil.Error):
        os_threads = psutil.Process().num_threads()  # threads started outside Python count too
        if os_threads > 1:
            hazards.append(f"{os_threads} OS threads")
        sockets = psutil.Process().net_connections(kind="all")
        if sockets:
            hazards.append(f"{len(sockets)} open sockets")
    with contextlib.suppress(RuntimeError):
        asyncio.get_running_loop()
        hazards.append("a running event loop")
    connections = open_db_connections()
    if connections:
        hazards.append(f"{connections} open metadata DB connections")
    return hazards
