"""What the supervisor program decides from what the engine reports. The program
runs in its own image and imports nothing of Dockyard, so it is loaded from its
file here; its label names must be Dockyard's."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import queue
import re
import sys
import threading
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from dockyard.plan import model
from dockyard.plan.supervisor import SUPERVISOR_SERVICE
from dockyard.supervise.build import IMAGE_DIR

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def program() -> ModuleType:
    spec = importlib.util.spec_from_file_location("supervisor_program", IMAGE_DIR / "supervisor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, as Docker writes


def info(
    name: str,
    *,
    status: str = "running",
    role: str = "main",
    kind: str = "service",
    service: str = "api",
    policy: str = "unless-stopped",
    exit_code: int = 0,
    started: datetime = NOW - timedelta(minutes=5),
    finished: datetime | None = None,
    joins: str | None = None,
) -> dict[str, Any]:
    return {
        "Id": f"id-{name}",
        "Name": f"/{name}",
        "Config": {
            "Labels": {
                "dockyard.env": "prod",
                "dockyard.role": role,
                "dockyard.kind": kind,
                "dockyard.service": service,
                "dockyard.task": name if joins is None else joins,
            }
        },
        "State": {
            "Status": status,
            "ExitCode": exit_code,
            "StartedAt": stamp(started),
            "FinishedAt": stamp(finished) if finished else "0001-01-01T00:00:00Z",
        },
        "HostConfig": {
            "RestartPolicy": {"Name": policy, "MaximumRetryCount": 0},
            "NetworkMode": f"container:id-{joins}" if joins else "dockyard-prod",
        },
    }


def decide(program: ModuleType, *infos: dict[str, Any]) -> tuple[list[tuple[str, str]], Any]:
    actions, later = program.decide([program.seen_of(i) for i in infos], NOW)
    return [(a.verb, a.container.name) for a in actions], later


def test_labels_are_dockyards(program: ModuleType) -> None:
    assert program.LABEL_ENV == model.LABEL_ENV
    assert program.LABEL_ROLE == model.LABEL_ROLE
    assert program.LABEL_KIND == model.LABEL_KIND
    assert program.LABEL_TASK == model.LABEL_TASK
    assert program.LABEL_SERVICE == model.LABEL_SERVICE
    assert program.SELF == SUPERVISOR_SERVICE


def test_nothing_to_do_when_everything_runs(program: ModuleType) -> None:
    sidecar_started = NOW - timedelta(minutes=4)
    assert decide(
        program,
        info("api-1"),
        info("api-1-stats", role="sidecar", joins="api-1", started=sidecar_started),
    ) == ([], None)


@pytest.mark.parametrize(
    ("policy", "exit_code", "starts"),
    [
        ("unless-stopped", 137, True),
        ("always", 0, True),
        ("on-failure", 137, True),
        ("on-failure", 0, False),
        ("no", 137, False),  # what Dockyard sets before it removes a task
    ],
)
def test_a_stopped_container_starts_when_its_policy_says_so(
    program: ModuleType, policy: str, exit_code: int, starts: bool
) -> None:
    stopped = info(
        "ingress-1",
        status="exited",
        kind="accessory",
        policy=policy,
        exit_code=exit_code,
        finished=NOW - timedelta(seconds=5),
    )
    expected = [("start", "ingress-1")] if starts else []
    assert decide(program, stopped) == (expected, None)


def test_one_that_stopped_a_moment_ago_is_looked_at_again(program: ModuleType) -> None:
    ago = program.SETTLE / 2
    stopped = info("db-1", status="exited", exit_code=137, finished=NOW - timedelta(seconds=ago))
    actions, later = decide(program, stopped)
    assert actions == [] and later == pytest.approx(program.SETTLE - ago)


@pytest.mark.parametrize("status", ["restarting", "created", "paused", "removing", "dead"])
def test_docker_keeps_what_it_is_doing(program: ModuleType, status: str) -> None:
    assert decide(program, info("api-1", status=status, exit_code=1)) == ([], None)


def test_one_off_tasks_and_the_supervisor_are_left_alone(program: ModuleType) -> None:
    gone = {"status": "exited", "exit_code": 1, "finished": NOW - timedelta(seconds=5)}
    task = info("prod-api-migrate", role="task", kind="task", **gone)
    itself = info("prod-supervisor-1", kind="accessory", service=SUPERVISOR_SERVICE, **gone)
    assert decide(program, task, itself) == ([], None)


def test_a_sidecar_older_than_its_mains_start_is_restarted(program: ModuleType) -> None:
    main = info("api-1", started=NOW - timedelta(seconds=3))  # Docker restarted it
    sidecar = info("api-1-stats", role="sidecar", joins="api-1", started=NOW - timedelta(minutes=5))
    assert decide(program, main, sidecar) == ([("restart", "api-1-stats")], None)


def test_joined_containers_are_sidecars_whatever_their_role(program: ModuleType) -> None:
    holder = info("ingress-1", kind="accessory", started=NOW - timedelta(seconds=3))
    caddy = info("ingress-1-caddy", kind="accessory", joins="ingress-1")  # role main
    assert decide(program, holder, caddy) == ([("restart", "ingress-1-caddy")], None)


def test_a_sidecar_waits_for_its_main(program: ModuleType) -> None:
    main = info("api-1", status="exited", exit_code=137, finished=NOW - timedelta(seconds=5))
    alive = info("api-1-stats", role="sidecar", joins="api-1")
    dead = info(
        "api-1-log",
        role="sidecar",
        joins="api-1",
        status="exited",
        exit_code=1,
        finished=NOW - timedelta(seconds=5),
    )
    assert decide(program, main, alive, dead) == ([("start", "api-1")], None)
    # Once the main runs again: the stopped one starts, the detached one restarts.
    again = info("api-1", started=NOW - timedelta(seconds=1))
    assert decide(program, again, alive, dead) == (
        [("restart", "api-1-stats"), ("start", "api-1-log")],
        None,
    )


def test_docker_timestamps_with_nanoseconds(program: ModuleType) -> None:
    assert program.timestamp("2026-01-01T12:00:00.123456789Z") == datetime(
        2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC
    )
    assert program.timestamp("2026-01-01T12:00:00Z") == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert program.timestamp("0001-01-01T00:00:00Z") is None


def test_a_log_line_starts_with_the_time(
    program: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    program.log("started prod-api-1-abc: it exited (137)")
    line = capsys.readouterr().out
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z started prod-api-1-abc: ", line), line


class DroppingEngine:
    """Stands in for the engine's event stream, which cannot be cut here without
    restarting the daemon: the first stream ends after one event, the second
    connection fails, the third stream stays open with another event."""

    def __init__(self) -> None:
        self.opened = 0

    def events(self, environment: str) -> io.BufferedReader:
        self.opened += 1
        if self.opened == 2:
            raise OSError("connection refused")
        event = {"status": "die", "id": f"id-{self.opened}", "Actor": {"Attributes": {}}}
        body = json.dumps(event).encode() + b"\n"
        if self.opened == 3:
            read, write = os.pipe()
            os.write(write, body)  # and never closed: the stream stays open
            return io.BufferedReader(io.FileIO(read))
        return io.BufferedReader(io.BytesIO(body))  # type: ignore[arg-type]


def test_the_event_stream_is_opened_again_when_it_drops(
    program: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(program, "RETRY_STREAM", 0.01)
    engine = DroppingEngine()
    supervisor = program.Supervisor(engine, "prod", None)
    events: queue.Queue[object] = queue.Queue()
    threading.Thread(target=supervisor.watch, args=(events,), daemon=True).start()
    got = [events.get(timeout=10) for _ in range(4)]
    # Each time the stream is (re)opened, a full pass is due before its events.
    assert got[0] == got[2] == program.RECONNECTED
    assert [e["id"] for e in (got[1], got[3])] == ["id-1", "id-3"]  # type: ignore[index]
    assert engine.opened == 3
