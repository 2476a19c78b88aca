"""Putting the lines of many containers in one order: the engine's timestamps.

What has been written is merged exactly: every source's lines are in order,
so a heap merge of them is (:func:`merge_sorted`), and so is
:func:`merge_batches`, which takes them in batches and lets Python's sort merge
what is safe to let out in one call, many times faster than a heap in Python.

What arrives while following cannot be merged exactly: a line may come a
moment after a later one of another container. The
:class:`HoldBack` keeps each line ``hold`` seconds after it arrives and lets
them out oldest first, which orders lines that arrive that close together.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Generic, TypeVar

T = TypeVar("T")


def merge_sorted(streams: Iterable[Iterable[tuple[int, T]]]) -> Iterator[tuple[int, T]]:
    """The items of sorted ``(time, item)`` streams in one time order; items of
    one time keep the order of their streams."""
    return heapq.merge(*streams, key=lambda pair: pair[0])


def merge_batches(
    streams: Iterable[Iterator[list[tuple[int, T]]]],
) -> Iterator[list[tuple[int, T]]]:
    """Batches of ``(time, item)`` from streams of sorted batches, in one time
    order (items of one time keep the order of their streams).

    Every stream's pending batch ends at some time; nothing any stream has yet
    to give is older than the earliest of those ends (its next batch starts
    after its pending one), so all pending items up to that end can go: they
    are sorted together (runs that the sort merges) and let out as one batch.
    """
    pending: list[list[tuple[int, T]]] = []
    sources: list[Iterator[list[tuple[int, T]]]] = []
    for stream in streams:
        pending.append([])
        sources.append(stream)
    first = itemgetter(0)
    while sources:
        for n, stream in enumerate(sources):  # every stream with items pending, or done
            while not pending[n]:
                batch = next(stream, None)
                if batch is None:
                    break
                pending[n] = batch
        live = [n for n in range(len(sources)) if pending[n]]
        if not live:
            return
        sources = [sources[n] for n in live]
        pending = [pending[n] for n in live]
        horizon = min(p[-1][0] for p in pending)
        out: list[tuple[int, T]] = []
        for n, items in enumerate(pending):
            if items[-1][0] <= horizon:
                out += items
                pending[n] = []
            else:
                cut = bisect_right(items, horizon, key=first)
                out += items[:cut]
                pending[n] = items[cut:]
        if len(pending) > 1:
            out.sort(key=first)
        yield out


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
