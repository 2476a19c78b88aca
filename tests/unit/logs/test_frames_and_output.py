"""Docker's multiplexed log stream parsed from reads of any size; the lines the
CLI writes for it; the flags it takes."""

from __future__ import annotations

import json
import struct

import pytest

from dockyard.cli.logs import json_lines, query_of, text_lines
from dockyard.cli.parser import build_parser
from dockyard.engines.docker.logs import lines_of
from dockyard.engines.model import LogLine, LogSource
from dockyard.logs.stream import Entry
from dockyard.logs.times import NS, LogsError, parse_time


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


STREAM = b"".join(
    [
        frame(1, b"2026-12-04T02:05:06.821276935Z first line\n"),
        frame(2, b"2026-12-04T02:05:06.8213Z on stderr \xe2\x9c\x93\n"),
        frame(1, b"2026-12-04T02:05:07Z no fraction\n"),
        frame(1, b"2026-12-04T03:05:07.5+01:00 an offset\n"),
        frame(1, b"2026-12-04T02:05:08.000000001Z \n"),
    ]
)
EXPECTED = [
    LogLine(parse_time("2026-12-04T02:05:06.821276935Z", 0), "stdout", "first line"),
    LogLine(parse_time("2026-12-04T02:05:06.8213Z", 0), "stderr", "on stderr ✓"),
    LogLine(parse_time("2026-12-04T02:05:07Z", 0), "stdout", "no fraction"),
    LogLine(parse_time("2026-12-04T02:05:07.5Z", 0), "stdout", "an offset"),
    LogLine(parse_time("2026-12-04T02:05:08Z", 0) + 1, "stdout", ""),
]


@pytest.mark.parametrize("size", [1, 3, 8, 9, 50, len(STREAM)])
def test_frames_parse_the_same_whatever_the_reads_cut_them_into(size: int) -> None:
    reads = (STREAM[i : i + size] for i in range(0, len(STREAM), size))
    assert list(lines_of(reads)) == EXPECTED


def test_a_long_lines_parts_are_joined_at_its_first_parts_time() -> None:
    """Docker stores a line longer than 16 KiB as parts without a newline; a
    line of the other stream may come between them."""
    stream = b"".join(
        [
            frame(1, b"2026-12-04T02:05:06Z " + b"x" * 16384),
            frame(2, b"2026-12-04T02:05:06.5Z between\n"),
            frame(1, b"2026-12-04T02:05:07Z " + b"y" * 100 + b"\n"),
            frame(1, b"2026-12-04T02:05:08Z no newline at the end"),
        ]
    )
    assert list(lines_of(iter([stream]))) == [
        LogLine(parse_time("2026-12-04T02:05:06.5Z", 0), "stderr", "between"),
        LogLine(parse_time("2026-12-04T02:05:06Z", 0), "stdout", "x" * 16384 + "y" * 100),
        LogLine(parse_time("2026-12-04T02:05:08Z", 0), "stdout", "no newline at the end"),
    ]


def test_a_line_without_end_is_shown_in_pieces_of_bounded_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("dockyard.engines.docker.logs.MAX_LINE", 10)
    stream = b"".join(frame(1, b"2026-12-04T02:05:06Z " + b"z" * 4) for _ in range(6))
    assert [line.text for line in lines_of(iter([stream]))] == ["z" * 12, "z" * 12]


def entry(prefix: str, text: str, stream: str = "stdout", replica: int | None = 1) -> Entry:
    source = LogSource("id", f"t-{prefix}", prefix.split(".")[0], "service", "c", "main", replica)
    return Entry(source, prefix, LogLine(5 * NS + 7, stream, text))


def test_text_lines_align_and_show_control_characters_as_replacements() -> None:
    lines = list(text_lines([entry("db", "ready"), entry("api.1/stats", "\x1b[2Jcleared")], 5))
    assert lines == ["db    | ready\n", "api.1/stats | \ufffd[2Jcleared\n"]


def test_json_lines_parse_and_keep_streams_apart() -> None:
    found = [json.loads(x) for x in json_lines([entry("api.2", "boom", "stderr", 2)])]
    assert found == [
        {
            "time": "1970-01-01T00:00:05.000000007Z",
            "source": "api.2",
            "service": "api",
            "replica": 2,
            "container": "c",
            "name": "t-api.2",
            "stream": "stderr",
            "message": "boom",
        }
    ]


def parse(*argv: str) -> object:
    return build_parser().parse_args(["logs", "local", *argv])


def test_flags_make_the_query() -> None:
    args = parse("api", "web", "--since", "10m", "--tail", "5", "--grep", "err(or)?")
    query = query_of(args, 1000 * NS)  # type: ignore[arg-type]
    assert query.services == ("api", "web") and query.tail == 5
    assert query.since == 400 * NS and query.until is None
    assert query.grep is not None and query.grep.search("an error")


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--grep", "("], "is not a regular expression"), (["--tail", "-1"], "not a number of lines")],
)
def test_a_bad_pattern_or_count_is_an_error_at_its_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    assert f"argument {argv[0]}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(*argv)
    assert message in capsys.readouterr().err


def test_until_before_since_and_until_with_follow_are_refused() -> None:
    with pytest.raises(LogsError, match="before --since"):
        query_of(parse("--since", "1m", "--until", "2m"), 1000 * NS)  # type: ignore[arg-type]
    with pytest.raises(LogsError, match="do not go together"):
        query_of(parse("-f", "--until", "2m"), 1000 * NS)  # type: ignore[arg-type]
