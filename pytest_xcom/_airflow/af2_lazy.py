"""Airflow 2's lazy reads of a mapped upstream: one read per item the task actually takes.

A TaskFlow argument over a mapped upstream is a ``LazyXComSelectSequence``: nothing is read until
the task iterates or indexes it, and then one row per item. Airflow 3's Task SDK sends one
``GetXComSequenceItem`` per item for the same thing; this reports the same reads, each with the
map index of the item's row (rows come in map index order).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pytest_xcom._airflow.af2 import replaced
from pytest_xcom._airflow.sink import XComEventSink, guarded


class LazyReads:
    def __init__(self, sink: XComEventSink) -> None:
        self.sink = sink
        # id(sequence) -> (sequence, the read's fields, map indexes by position); the sequence is
        # kept so that its id is not reused by another object during the run
        self._watched: dict[int, tuple[Any, dict[str, Any], list[int]]] = {}

    def watch(self, sequence: Any, indexes: list[int], **read: Any) -> None:
        self._watched[id(sequence)] = (sequence, read, indexes)

    def _read(self, sequence: Any, position: int) -> None:
        entry = self._watched.get(id(sequence))
        if entry is None or entry[0] is not sequence:
            return  # a lazy sequence made outside a task's argument (e.g. an explicit pull)
        _, read, indexes = entry
        try:
            map_index: int | None = indexes[position]
        except IndexError:
            map_index = None
        self.sink.on_read(map_index=map_index, found=True, **read)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from airflow.models.xcom import LazyXComSelectSequence

        with replaced(LazyXComSelectSequence, "__iter__", self._wrap_iter), replaced(
            LazyXComSelectSequence, "__getitem__", self._wrap_getitem
        ):
            yield

    def _wrap_iter(self, original: Any) -> Any:
        reads = self

        def iterate(sequence: Any) -> Iterator[Any]:
            for position, item in enumerate(original(sequence)):
                guarded(reads.sink, "a lazy read", reads._read, sequence, position)
                yield item

        return iterate

    def _wrap_getitem(self, original: Any) -> Any:
        reads = self

        def getitem(sequence: Any, key: Any) -> Any:
            value = original(sequence, key)  # an index past the end raises: no read then
            entry = reads._watched.get(id(sequence))
            positions = range(len(entry[2]) if entry is not None else 0)
            taken = positions[key] if isinstance(key, slice) else [positions[key]] if positions else []
            for position in taken:
                guarded(reads.sink, "a lazy read", reads._read, sequence, position)
            return value

        return getitem
