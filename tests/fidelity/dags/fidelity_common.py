"""What every fidelity reader task returns: a description of exactly what it received.

The description is the reader's return value, so it lands in the xcom table (or in the backend's
store) on both sides, and the comparison covers what readers received, not only what was written.
``received_from`` names the XCom it came from, so the test can also check the harness's record
(``push.value``, "the value as downstream tasks receive it") against it.
"""

from __future__ import annotations

from typing import Any


def received(
    value: Any, *, task_id: str, key: str = "return_value", mapped: bool = False, loop: str | None = None
) -> dict:
    """``mapped``: a mapped task's values, as a sequence; ``loop``: every iteration's value of a task
    of that task loop, read from outside it (Airflow 3.4), as a sequence."""
    shown = list(value) if (mapped or loop) and value is not None else value
    return {
        "received_from": {"task_id": task_id, "key": key, "mapped": mapped, **({"loop": loop} if loop else {})},
        "type": type(value).__name__,
        "repr": repr(shown),
    }
