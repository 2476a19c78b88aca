"""Reading many containers' logs at once, in one time order.

Each source is read by a thread of its own, in batches handed over through a
queue; the merge takes the oldest line among the heads of all sources
(:func:`read_logs`), so lines come out in the engine's timestamp order while
every container is read at once.

Following (:func:`follow_logs`) has two phases. What was written up to a cut a
moment in the past (``CUT_BACK``: lines the engine timestamped but has not yet
written out are never missed) is merged exactly, as above. Then every source is
followed from that cut on, with no line at or before it (the engine's ``since``
includes the cut, its ``until`` too), and containers that start meanwhile are
read from their first line: a rollout's new replicas, a one-off task. A
container that stops is read to its last line; one that starts again goes on
after the last line read of it. Lines read while following pass through a
:class:`~dockyard.logs.merge.HoldBack`, which orders those that arrive close
together.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from dockyard.engines.access import ContainerLogs
from dockyard.engines.model import LogLine, LogSource, LogWindow
from dockyard.logs.merge import HoldBack, merge_batches
from dockyard.logs.sources import prefix, select

BATCH = 512
"""Lines a reading thread hands over at a time."""
CUT_BACK = 1_000_000_000
"""Nanoseconds before now where a follow's first, exactly merged phase ends."""
HOLD = 0.25
"""Seconds a followed line waits for lines of other sources that are older."""
WAKE = 1.0
"""Seconds at most that following waits for a line (an interrupt is seen then)."""


@dataclass(frozen=True)
class LogQuery:
    """What to read: the sources of ``services`` (all when empty), the lines in
    ``since``..``until`` (nanoseconds since the epoch), the last ``tail`` of each
    source, those whose text ``grep`` finds something in."""

    services: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None
    tail: int | None = None
    grep: re.Pattern[str] | None = None

    @property
    def window(self) -> LogWindow:
        return LogWindow(since=self.since, until=self.until, tail=self.tail)


class Entry(NamedTuple):
    """A line, with the source that wrote it and that source's prefix (a named
    tuple, as :class:`~dockyard.engines.model.LogLine` is: one per line)."""

    source: LogSource
    prefix: str
    line: LogLine


_END = object()


def sources_of(
    engine: ContainerLogs, environment: str, query: LogQuery, known: Sequence[str]
) -> list[LogSource]:
    """The containers of ``environment`` the query reads."""
    return select(engine.log_sources(environment), query.services, known)


def read_logs(
    engine: ContainerLogs, sources: Sequence[LogSource], query: LogQuery
) -> Iterator[Entry]:
    """Every line of ``sources`` in ``query``, oldest first, read all at once."""
    streams = [_pumped(engine, s, query) for s in sources]
    for batch in merge_batches(streams):
        for _, entry in batch:
            yield entry


def _pumped(
    engine: ContainerLogs, source: LogSource, query: LogQuery
) -> Iterator[list[tuple[int, Entry]]]:
    """One source's lines in batches, read by a thread of its own; its errors
    are raised to the reader."""
    handover: queue.Queue[object] = queue.Queue(maxsize=8)
    name = prefix(source)
    keep = _filter(query.grep)

    def pump() -> None:
        batch: list[tuple[int, Entry]] = []
        append = batch.append
        try:
            for line in engine.read_log(source, query.window, False):
                if keep is None or keep(line):
                    append((line.time, Entry(source, name, line)))
                    if len(batch) >= BATCH:
                        handover.put(batch)
                        batch = []
                        append = batch.append
            if batch:
                handover.put(batch)
            handover.put(_END)
        except BaseException as e:  # handed to the reading side, which raises it
            handover.put(e)

    threading.Thread(target=pump, name=f"logs {source.name}", daemon=True).start()
    while True:
        item = handover.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item  # type: ignore[misc]


def _filter(grep: re.Pattern[str] | None) -> Callable[[LogLine], bool] | None:
    if grep is None:
        return None
    search = grep.search
    return lambda line: search(line.text) is not None


def follow_logs(
    engine: ContainerLogs,
    environment: str,
    query: LogQuery,
    known: Sequence[str],
    now: Callable[[], int] = time.time_ns,
    stop: threading.Event | None = None,
) -> Iterator[Entry]:
    """What ``read_logs`` gives up to a moment ago, then every line the selected
    sources write from then on, and those of containers that start meanwhile,
    until the caller stops reading or sets ``stop`` (see the module's docstring)."""
    cut = now() - CUT_BACK
    sources = sources_of(engine, environment, query, known)
    yield from read_logs(engine, sources, replace(query, until=cut))
    follower = _Follower(engine, query, set(query.services))
    watch = engine.started_sources(environment, cut)
    try:
        for source in sources:
            follower.start(source, cut)
        threading.Thread(target=follower.watch, args=(watch,), daemon=True).start()
        yield from follower.entries(stop or threading.Event())
    finally:
        watch.close()


class _Follower:
    """The threads that follow sources, and the lines they read, in order."""

    def __init__(self, engine: ContainerLogs, query: LogQuery, services: set[str]) -> None:
        self.engine = engine
        self.services = services
        self.keep = _filter(query.grep)
        self.lines: queue.Queue[Entry | BaseException] = queue.Queue()
        self.lock = threading.Lock()
        self.last: dict[str, int | None] = {}  # the last line read of each container
        self.active: set[str] = set()  # containers a thread follows now
        self.again: set[str] = set()  # containers that started again meanwhile

    def start(self, source: LogSource, after: int | None) -> None:
        """Follow ``source`` after ``after`` (from its first line when None), unless
        a thread follows it already; then that thread reads on once it ends."""
        with self.lock:
            if source.id in self.active:
                self.again.add(source.id)
                return
            self.active.add(source.id)
            if source.id not in self.last:
                self.last[source.id] = after
        threading.Thread(target=self._follow, args=(source,), daemon=True).start()

    def watch(self, starts: Iterator[LogSource]) -> None:
        try:
            for source in starts:
                if not self.services or source.service in self.services:
                    self.start(source, None)
        except BaseException as e:
            self.lines.put(e)

    def _follow(self, source: LogSource) -> None:
        name = prefix(source)
        try:
            while True:
                after = self.last[source.id]  # lines up to it were read before
                newest = after
                for line in self.engine.read_log(source, LogWindow(since=after), True):
                    if after is not None and line.time <= after:
                        continue
                    if newest is None or line.time > newest:
                        newest = line.time
                        self.last[source.id] = newest
                    if self.keep is None or self.keep(line):
                        self.lines.put(Entry(source, name, line))
                with self.lock:
                    if source.id not in self.again:
                        self.active.discard(source.id)
                        return
                    self.again.discard(source.id)
        except BaseException as e:
            with self.lock:
                self.active.discard(source.id)
            self.lines.put(e)

    def entries(self, stop: threading.Event) -> Iterator[Entry]:
        held: HoldBack[Entry] = HoldBack(HOLD)
        while not stop.is_set():
            due = held.due()
            wait = WAKE if due is None else max(0.0, due - time.monotonic())
            try:
                item = self.lines.get(timeout=wait)
            except queue.Empty:
                item = None
            if isinstance(item, BaseException):
                raise item
            if item is not None:
                held.add(item.line.time, item, time.monotonic())
            for _, entry in held.ready(time.monotonic()):
                yield entry
