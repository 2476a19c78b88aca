"""Merging many sources' lines by the engine's timestamps."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dockyard.engines.model import LogDriverInfo, LogLine, LogSource, LogWindow
from dockyard.logs.merge import HoldBack, merge_sorted
from dockyard.logs.stream import LogQuery, read_logs


def test_sorted_streams_merge_into_one_time_order_ties_by_stream_order() -> None:
    a = [(1, "a1"), (4, "a4"), (4, "a4b"), (9, "a9")]
    b = [(2, "b2"), (4, "b4"), (10, "b10")]
    c: list[tuple[int, str]] = []
    merged = [item for _, item in merge_sorted([a, b, c])]
    assert merged == ["a1", "b2", "a4", "a4b", "b4", "a9", "b10"]


def test_a_hold_back_releases_held_items_oldest_first() -> None:
    held: HoldBack[str] = HoldBack(hold=1.0)
    held.add(20, "late line, early arrival", arrived=0.0)
    held.add(10, "early line, late arrival", arrived=0.5)
    assert list(held.ready(0.9)) == []
    assert held.due() == 1.5  # the oldest line waits for its own hold
    assert [i for _, i in held.ready(1.5)] == [
        "early line, late arrival",
        "late line, early arrival",
    ]
    held.add(30, "x", arrived=2.0)
    assert [i for _, i in held.drain()] == ["x"] and len(held) == 0


class Recorded:
    """In-memory logs of a few sources: the merge's input as data (the engine
    reading is tested against Docker in tests/engine/test_logs.py)."""

    def __init__(self, lines: dict[str, list[LogLine]]) -> None:
        self.lines = lines

    def log_sources(self, environment: str) -> list[LogSource]:
        return [LogSource(n, n, n, "service", n, "main", 1) for n in self.lines]

    def read_log(self, source: LogSource, window: LogWindow, follow: bool) -> Iterator[LogLine]:
        found = [
            line
            for line in self.lines[source.id]
            if (window.since is None or line.time >= window.since)
            and (window.until is None or line.time <= window.until)
        ]
        return iter(found[-window.tail :] if window.tail else found)

    def started_sources(self, environment: str, since: int) -> object:
        raise NotImplementedError

    def log_driver(self, source: LogSource) -> LogDriverInfo:
        return LogDriverInfo("json-file")


def test_read_logs_merges_every_source_and_filters_by_pattern() -> None:
    logs = Recorded(
        {
            "api": [LogLine(t, "stdout", f"api {t}") for t in range(0, 3000, 3)],
            "web": [
                LogLine(t, "stderr", f"web {t} error" if t % 10 == 0 else f"web {t}")
                for t in range(1, 3000, 5)
            ],
        }
    )
    sources = logs.log_sources("t")
    entries = list(read_logs(logs, sources, LogQuery()))  # type: ignore[arg-type]
    times = [e.line.time for e in entries]
    assert times == sorted(times) and len(entries) == 1000 + 600
    assert {e.prefix for e in entries} == {"api.1", "web.1"}
    errors = list(read_logs(logs, sources, LogQuery(grep=re.compile(r"error$"))))  # type: ignore[arg-type]
    assert [e.line.text for e in errors] == [
        f"web {t} error" for t in range(1, 3000, 5) if t % 10 == 0
    ]
