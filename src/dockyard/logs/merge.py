"""Putting the lines of many containers in one order: the engine's timestamps.

What has been written is merged exactly (:func:`merge_sorted`: every source's
lines are in order, so a heap merge is). What arrives while following cannot
be: a line may come a moment after a later one of another container. The
:class:`HoldBack` keeps each line ``hold`` seconds after it arrives and lets
them out oldest first, which orders lines that arrive that close together.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


def merge_sorted(streams: Iterable[Iterable[tuple[int, T]]]) -> Iterator[tuple[int, T]]:
    """The items of sorted ``(time, item)`` streams in one time order; items of
    one time keep the order of their streams."""
    return heapq.merge(*streams, key=lambda pair: pair[0])


@dataclass
class HoldBack(Generic[T]):
    """Items in time order, each released once ``hold`` seconds have passed since
    it arrived (or at once, on :meth:`drain`)."""

    hold: float
    _heap: list[tuple[int, int, float, T]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, time: int, item: T, arrived: float) -> None:
        heapq.heappush(self._heap, (time, next(self._seq), arrived, item))

    def ready(self, now: float) -> Iterator[tuple[int, T]]:
        """The items due by ``now``, oldest first: the oldest waits for its own
        hold, and takes with it no item that has not been held long enough."""
        while self._heap and self._heap[0][2] + self.hold <= now:
            time, _, _, item = heapq.heappop(self._heap)
            yield time, item

    def due(self) -> float | None:
        """When the oldest item is due (None when empty)."""
        return self._heap[0][2] + self.hold if self._heap else None

    def drain(self) -> Iterator[tuple[int, T]]:
        while self._heap:
            time, _, _, item = heapq.heappop(self._heap)
            yield time, item

    def __len__(self) -> int:
        return len(self._heap)
