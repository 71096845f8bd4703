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


@contextlib.contextmanager
def conf_vars(overrides: dict[tuple[str, str], str | None]) -> Iterator[None]:
    """Set Airflow config options for the block, as Airflow's own test helper ``conf_vars`` does.

    ``{("core", "max_map_length"): "16"}``; ``None`` removes an option. Each option is set in the
    config objects task code and Airflow read (``airflow.configuration.conf``, the Task SDK's), and
    as its ``AIRFLOW__SECTION__KEY`` variable, which Airflow reads before the config objects (the
    harness's own isolation sets several). Everything is put back when the block ends.
    """
    import os

    _ensure_config_loaded()
    saved_env = {name: os.environ.get(name) for name in (_env_name(section, key) for section, key in overrides)}
    with config_restored():
        try:
            for (section, key), value in overrides.items():
                name = _env_name(section, key)
                for conf in _config_objects():
                    if value is None:
                        if conf.has_option(section, key):
                            conf.remove_option(section, key)
                    else:
                        if not conf.has_section(section):
                            conf.add_section(section)
                        conf.set(section, key, str(value))
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = str(value)
            yield
        finally:
            for name, old in saved_env.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old


def _env_name(section: str, key: str) -> str:
    return f"AIRFLOW__{section.upper().replace('.', '_')}__{key.upper()}"


def _ensure_config_loaded() -> None:
    import airflow.configuration  # noqa: F401  (the core's conf; the Task SDK's comes with it on Airflow 3)
