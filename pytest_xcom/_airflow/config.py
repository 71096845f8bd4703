"""Airflow's configuration objects: what a run changed there is undone after it."""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Iterator
from typing import Any

# Where task code finds a ``conf`` to ``set``: the core's and the Task SDK's configuration.
_CONFIG_MODULES = ("airflow.configuration", "airflow.sdk.configuration")


def _config_objects() -> list[Any]:
    found: dict[int, Any] = {}
    for name in _CONFIG_MODULES:
        conf = getattr(sys.modules.get(name), "conf", None)
        if conf is not None and isinstance(getattr(conf, "_sections", None), dict):
            found[id(conf)] = conf
    return list(found.values())


@contextlib.contextmanager
def config_restored() -> Iterator[None]:
    """Undo ``conf.set(...)`` / ``conf.remove_option(...)`` made by task code during the block."""
    saved = [(conf, copy.deepcopy(conf._sections)) for conf in _config_objects()]
    try:
        yield
    finally:
        for conf, sections in saved:
            if conf._sections != sections:
                conf._sections.clear()
                conf._sections.update(sections)
