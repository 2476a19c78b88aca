"""The traffic log's reader: the program that runs in the ingress container, run
here by python3 on a file written as Caddy writes it (JSON lines, rolled by
renaming to ``<name>-<time>.log`` and starting a new file)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dockyard.discovery.traffic import CONNECTION_ERROR, TrafficLog


class Here:
    """Runs the reader's command on this machine instead of in a container."""

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout + done.stderr


def line(ts: float, upstream: str, status: int | None = None, error: str | None = None) -> str:
    entry: dict[str, object] = {
        "level": "debug",
        "ts": ts,
        "logger": "http.handlers.reverse_proxy",
        "msg": "upstream roundtrip",
        "upstream": upstream,
        "duration": 0.002,
        "request": {"method": "GET", "uri": "/"},
    }
    if status is not None:
        entry["status"] = status
    if error is not None:
        entry["error"] = error
    return json.dumps(entry) + "\n"


def selected(upstream: str) -> str:
    return json.dumps({"msg": "selected upstream", "dial": upstream}) + "\n"


def test_reads_what_was_added_since_and_follows_a_roll(tmp_path: Path) -> None:
    path = tmp_path / "roundtrips.log"
    log = TrafficLog(Here(), "here", str(path))
    assert log.read() > 0 and log.samples(["a:1"]) == []  # no file yet: nothing

    path.write_text(selected("a:1") + line(1.0, "a:1", 200) + line(2.0, "b:1", 500))
    log.read()
    with path.open("a") as f:
        f.write(line(3.0, "a:1", error="dial tcp: connect: connection refused"))
        f.write(line(4.0, "a:1", error="context canceled"))  # the client left: not counted
        f.write('{"msg": "upstream roundtrip", "ts": 5.0, "upst')  # half written
    log.read()
    assert [(s.at, s.status) for s in log.samples(["a:1"])] == [(1.0, 200), (3.0, CONNECTION_ERROR)]
    assert log.figures(["b:1"]).server_errors == 1

    with path.open("a") as f:
        f.write('ream": "a:1", "status": 200}\n')  # the rest of the line
        f.write(line(6.0, "a:1", 502))
    path.rename(tmp_path / "roundtrips-2026-12-04T02-00-00.000.log")
    path.write_text(line(7.0, "a:1", 200))
    log.read()
    assert [(s.at, s.status) for s in log.samples(["a:1"])] == [
        (1.0, 200),
        (3.0, CONNECTION_ERROR),
        (5.0, 200),
        (6.0, 502),
        (7.0, 200),
    ]
    assert [s.at for s in log.samples(["a:1"], since=5.0)] == [5.0, 6.0, 7.0]


def test_the_first_read_starts_near_the_end_of_a_long_log(tmp_path: Path) -> None:
    path = tmp_path / "roundtrips.log"
    path.write_text("".join(line(float(i), "a:1", 200) for i in range(1000)))
    log = TrafficLog(Here(), "here", str(path))
    log.read(first=10_000)
    found = log.samples(["a:1"])
    assert 0 < len(found) < 100 and found[-1].at == 999.0


def test_the_first_read_reaches_into_the_rolled_file_when_the_current_one_is_short(
    tmp_path: Path,
) -> None:
    rolled = tmp_path / "roundtrips-2026-12-04T02-00-00.000.log"
    rolled.write_text("".join(line(float(i), "a:1", 200) for i in range(100)))
    (tmp_path / "roundtrips.log").write_text(line(100.0, "a:1", 500))
    log = TrafficLog(Here(), "here", str(tmp_path / "roundtrips.log"))
    log.read(first=len(line(1.0, "a:1", 200)) * 10)
    found = [s.at for s in log.samples(["a:1"])]
    assert 5 < len(found) < 20 and found[-1] == 100.0 and found == sorted(found)
