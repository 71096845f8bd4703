"""A frozen wall clock for task code, with Airflow's machinery kept on the real clock."""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from types import FrameType, ModuleType
from typing import Any

from pytest_xcom._airflow.versions import is_airflow2

# Packages whose code keeps the real clock while task code is frozen. An entry covers the module
# of that name and its submodules ("airflow" and "airflow.models", never "airflow_dags").
MACHINERY_MODULES = (
    "airflow",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "pydantic_extra_types",
    "fastapi",
    "fastapi_cli",
    "starlette",
    "cadwyn",
    "sqlalchemy",
    "alembic",
    "httpx",
    "httpcore",
    "anyio",
    "a2wsgi",
    "uvicorn",
    "structlog",
    "pytest_xcom",
    "_pytest",
    "moto",
    "werkzeug",
    "botocore",
    "aiobotocore",
    "s3transfer",
    "fsspec",
    "s3fs",
    "fakeredis",
)


@contextlib.contextmanager
def frozen_task_clock(moment: datetime) -> Iterator[None]:
    """While the block runs, each task's own code runs with the wall clock frozen at ``moment``.

    Only the task's execution is frozen: Airflow imports much of itself lazily during a run,
    and a module imported under freezegun binds its fake datetime class, which pydantic then
    refuses to build schemas for.
    """
    holder, name = _task_execution_holder()
    original = getattr(holder, name)

    def execute_frozen(*args: Any, **kwargs: Any) -> Any:
        with frozen_clock(moment):
            return original(*args, **kwargs)

    setattr(holder, name, execute_frozen)
    try:
        yield
    finally:
        setattr(holder, name, original)


def _task_execution_holder() -> tuple[ModuleType, str]:
    """(module, name) of the function that runs a task's own code: the Task SDK's task runner on 3."""
    if is_airflow2():
        from pytest_xcom._airflow import af2

        return af2.task_execution_holder()
    from airflow.sdk.execution_time import task_runner

    return task_runner, "_execute_task"


def _dotted(entries: Any) -> tuple[str, ...]:
    """freezegun ignore entries as dotted prefixes: ``"airflow"`` -> ``"airflow."``."""
    return tuple(dict.fromkeys(entry if entry.endswith(".") else entry + "." for entry in entries))


def _ignored(module_name: str, dotted: tuple[str, ...]) -> bool:
    """Whether ``module_name`` is one of the dotted entries' modules or a submodule of one."""
    return (module_name + ".").startswith(dotted)


@contextlib.contextmanager
def frozen_clock(moment: datetime) -> Iterator[None]:
    """Freeze the wall clock at ``moment`` for everything but Airflow's machinery.

    freezegun matches its ``ignore`` entries as bare prefixes of module names, so ``"airflow"``
    would also ignore a user's ``airflow_dags`` package, and ``"pytest_xcom"`` the DAG files
    ``xcom.load_dag`` imports (``pytest_xcom_dagfile_...``): their tasks would see the real clock.
    Here an entry matches on module boundaries only, in both places freezegun consults it: when
    ``start()`` rebinds the time functions modules imported (handed dotted prefixes, and
    ``_get_cached_module_attributes`` skipping the top-level machinery packages themselves) and
    when a fake time function decides whether its caller gets the real time
    (``_should_use_real_time``). Both are swapped for the duration of the freeze only.
    """
    import freezegun
    from freezegun import api as freezegun_api

    freezer = freezegun.freeze_time(moment, ignore=list(MACHINERY_MODULES))
    freezer.ignore = _dotted(freezer.ignore)  # freezegun's own default entries too ("gi" = PyGObject)
    machinery: tuple[str, ...] = freezer.ignore

    module_attributes: Callable[[ModuleType], list[tuple[str, Any]]] = freezegun_api._get_cached_module_attributes

    def patchable_attributes(module: ModuleType) -> list[tuple[str, Any]]:
        # start() skips sys.modules keys starting with a dotted entry; this skips "airflow" itself
        name = getattr(module, "__name__", None)
        if isinstance(name, str) and _ignored(name, machinery):
            return []
        return module_attributes(module)

    def should_use_real_time() -> bool:
        # freezegun's own check, with boundary matching; frame 0 is this function, 1 the fake time
        # function, 2 the code that asked for the time
        if not freezegun_api.call_stack_inspection_limit:
            return False
        if not freezegun_api.ignore_lists:
            return True
        ignore = freezegun_api.ignore_lists[-1]
        if not ignore:
            return False
        dotted = machinery if ignore is machinery else _dotted(ignore)
        frame: FrameType | None = sys._getframe(2)
        for _ in range(freezegun_api.call_stack_inspection_limit):
            if frame is None:
                break
            name = frame.f_globals.get("__name__")
            if isinstance(name, str) and _ignored(name, dotted):
                return True
            frame = frame.f_back
        return False

    # Decide per call by the immediate caller only: task code runs under several Airflow
    # frames, and looking further up the stack would hand it the real time too.
    saved = (
        freezegun_api.call_stack_inspection_limit,
        freezegun_api._should_use_real_time,
        freezegun_api._get_cached_module_attributes,
    )
    freezegun_api.call_stack_inspection_limit = 1
    freezegun_api._should_use_real_time = should_use_real_time
    freezegun_api._get_cached_module_attributes = patchable_attributes
    try:
        with freezer:
            yield
    finally:
        (
            freezegun_api.call_stack_inspection_limit,
            freezegun_api._should_use_real_time,
            freezegun_api._get_cached_module_attributes,
        ) = saved


_ATOMS = frozenset({str, int, float, bool, bytes, type(None)})


def as_real_time(value: Any) -> Any:
    """``value`` with freezegun's fake datetimes and dates, nested ones too, made real.

    Values made under a frozen clock are freezegun's ``FakeDatetime``/``FakeDate``; production
    would push real ones, and Airflow's serializer refuses the fakes. Each fake becomes an equal
    ``datetime.datetime``/``datetime.date`` (same tzinfo and fold), inside dict keys and values,
    lists, tuples (named ones too), sets and frozensets. The very same object comes back when
    there is nothing to replace, and whenever replacing fails: this never raises.
    """
    api = sys.modules.get("freezegun.api")
    if api is None:  # freezegun never imported: no fakes can exist
        return value
    try:
        return _Realizer(api.FakeDatetime, api.FakeDate, api.real_datetime, api.real_date).convert(value)
    except Exception:
        return value


class _Realizer:
    """One walk over a value, replacing fakes; containers are copied only when something changed."""

    def __init__(self, fake_datetime: type, fake_date: type, real_datetime: type, real_date: type) -> None:
        # isinstance() cannot tell fakes from reals (freezegun's metaclass answers for the real
        # classes), so everything here compares exact types
        self._fake_datetime = fake_datetime
        self._fake_date = fake_date
        self._real_datetime = real_datetime
        self._real_date = real_date
        self._open: set[int] = set()  # containers being walked: a cycle is left as it is

    def convert(self, value: Any) -> Any:
        cls = type(value)
        if cls in _ATOMS:
            return value
        if cls is self._fake_datetime:
            return self._real_datetime(
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
                value.tzinfo,
                fold=value.fold,
            )
        if cls is self._fake_date:
            return self._real_date(value.year, value.month, value.day)
        if not isinstance(value, (dict, list, tuple, set, frozenset)) or id(value) in self._open:
            return value
        self._open.add(id(value))
        try:
            return self._container(value)
        finally:
            self._open.discard(id(value))

    def _container(self, value: Any) -> Any:
        cls = type(value)
        if isinstance(value, dict):
            pairs = [(self.convert(k), self.convert(v)) for k, v in value.items()]
            if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True)):
                return value
            if cls is dict:
                return dict(pairs)
            new_dict = copy.copy(value)  # keeps the subclass and its state (a defaultdict's factory)
            new_dict.clear()
            for key, item in pairs:
                new_dict[key] = item
            return new_dict
        items = [self.convert(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if cls in (list, tuple, set, frozenset):
            return cls(items)
        if isinstance(value, tuple):
            make = getattr(cls, "_make", None)  # a namedtuple
            return make(items) if make is not None else value
        if isinstance(value, (list, set)):  # subclasses: a copy keeps the class and its state
            new = copy.copy(value)
            new.clear()
            if isinstance(new, list):
                new.extend(items)
            else:
                new.update(items)
            return new
        return value
