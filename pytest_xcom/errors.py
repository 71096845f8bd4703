"""The one family of errors pytest-xcom raises for a user's mistake.

Every class subclasses :class:`XComError` and the builtin it corresponds to, so both
``except XComError`` and ``except ValueError`` (or ``RuntimeError``, ``LookupError``...) catch it.
"""

from __future__ import annotations


class XComError(Exception):
    """Base of every error pytest-xcom raises for a user's mistake."""


class XComValueError(XComError, ValueError):
    """An argument with the right type but a value the harness cannot use."""


class XComTypeError(XComError, TypeError):
    """An argument of a type the harness does not take."""


class DagFileError(XComError):
    """A DAG file could not be imported, or holds no DAG with the requested id."""


class DagRunError(XComError, RuntimeError):
    """The DAG run could not even start (invalid DAG, cycle, metadata DB not reachable)."""


class NoRunError(XComError, RuntimeError):
    """A query was made on ``xcom`` before any ``xcom.run(...)`` in this test."""


class XComLookupError(XComError, LookupError):
    """A query asked for a task, key or map index the run does not have."""

    def __str__(self) -> str:  # LookupError quotes its argument; show the sentence as written
        return str(self.args[0]) if self.args else ""


class BackendError(XComError, ValueError):
    """A backend name or option that cannot be used."""


class SizeError(XComError, ValueError):
    """A size limit that cannot be understood."""


class PolicyError(XComError, ValueError):
    """A policy setting (option, ini value or marker argument) that cannot be used."""


class SnapshotError(XComError, ValueError):
    """A snapshot file that exists but cannot be read as snapshot entries."""


class IsolationError(XComError, RuntimeError):
    """Airflow was already configured for another metadata DB before the harness could isolate it."""


class DatabaseServerError(XComError, RuntimeError):
    """The ``--xcom-db`` server cannot be used."""


class RecordingError(RuntimeError):
    """pytest-xcom itself failed to record a run (a bug of the harness, not a user's mistake)."""


__all__ = [
    "BackendError",
    "DagFileError",
    "DagRunError",
    "DatabaseServerError",
    "IsolationError",
    "NoRunError",
    "PolicyError",
    "RecordingError",
    "SizeError",
    "SnapshotError",
    "XComError",
    "XComLookupError",
    "XComTypeError",
    "XComValueError",
]
