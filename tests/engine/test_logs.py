"""Reading an environment's logs from a real Docker Engine: every line each
container wrote, once, also while replicas are replaced under a follow.

Each container runs a small program that writes numbered lines under a token
of its own (a third of them on stderr), then ``done``, and ``bye`` when it gets
SIGTERM; the lines shown are counted against those.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator

import docker
import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.engines.model import BuildRequest, LogSource
from dockyard.logs import Entry, LogQuery, follow_logs, read_logs
from dockyard.logs.drivers import unread_drivers
from dockyard.logs.stream import sources_of
from dockyard.plan.desired import with_logging
from dockyard.plan.model import ContainerDef, LogDef, OneOffDef, PortDef, ServiceDef, TaskDef
from dockyard.spec.logconfig import LoggingConfig

from .conftest import IMAGES
from .support import BASE_IMAGE, Run, service, wait_for

pytestmark = pytest.mark.engine

WRITER = """
import os, signal, sys, time, uuid
token = uuid.uuid4().hex[:8]
def bye(*_):
    print(token, "bye", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
for i in range(int(os.environ["COUNT"])):
    print(token, i, file=sys.stderr if i % 3 == 0 else sys.stdout, flush=True)
    time.sleep(float(os.environ["PAUSE"]))
print(token, "done", flush=True)
if os.environ.get("STAY"):
    while True:
        time.sleep(1)
"""


def writer(name: str, count: int, *, sidecar: bool = False, version: str = "1") -> ContainerDef:
    env = {"COUNT": str(count), "PAUSE": "0.01", "STAY": "1", "VERSION": version}
    return ContainerDef(
        name=name,
        image=BASE_IMAGE,
        sidecar=sidecar,
        command=["python3", "-u", "-c", WRITER],
        env=env,
        stop_grace=5.0,
    )


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def by_token(entries: list[Entry]) -> dict[str, list[Entry]]:
    found: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        token, _, _ = entry.line.text.partition(" ")
        found[token].append(entry)
    return found


def words(entries: list[Entry]) -> list[str]:
    return [e.line.text.partition(" ")[2] for e in entries]


def numbered(count: int, *ends: str) -> list[str]:
    return [str(i) for i in range(count)] + list(ends)


def same_lines(entries: list[Entry], expected: list[str]) -> bool:
    """Every expected line once, and each stream's lines in the order written.

    Docker timestamps a line as it reads it from the container's stdout or
    stderr pipe, each read on its own: under load a line of one stream can get
    an earlier stamp than a line the program wrote before it on the other. The
    time order shown is the stamps' order, so only each stream's own order is
    the program's."""
    got = words(entries)
    if sorted(got) != sorted(expected):
        return False
    for stream in ("stdout", "stderr"):
        mine = [w for w, e in zip(got, entries, strict=True) if e.line.stream == stream]
        if mine != [w for w in expected if w in set(mine)]:
            return False
    return True


class Following:
    """``follow_logs`` in a thread of its own, collecting what it shows."""

    def __init__(self, engine: DockerEngine, environment: str, known: list[str]) -> None:
        self.entries: list[Entry] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        stream = follow_logs(engine, environment, LogQuery(), known, stop=self.stop)
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream: Iterator[Entry]) -> None:
        try:
            for entry in stream:
                self.entries.append(entry)
        except BaseException as e:
            self.error = e

    def close(self) -> list[Entry]:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "follow did not stop"
        assert self.error is None, self.error
        return list(self.entries)

    def tokens(self, *words_: str) -> set[str]:
        """Tokens whose lines include every one of ``words_``."""
        seen = by_token(list(self.entries))
        return {t for t, lines in seen.items() if set(words_) <= set(words(lines))}


def test_follow_through_a_rollout_shows_every_line_once(
    engine: DockerEngine, test_run: Run
) -> None:
    count = 150
    old = service("app", writer("app", count), writer("side", count, sidecar=True), replicas=2)
    desired = test_run.desired(old)
    engine.ensure_network(desired)
    olds = [engine.start_task(desired, old, r, "r1") for r in (1, 2)]
    # Following starts while the first replicas still write: the cut between what
    # was written and what is followed falls among their lines.
    follow = Following(engine, test_run.environment, ["app"])
    try:
        wait_for(lambda: len(follow.tokens("done")) == 4, 60, "the first replicas' lines")
        new = service(
            "app",
            writer("app", count, version="2"),
            writer("side", count, sidecar=True, version="2"),
            replicas=2,
        )
        newer = test_run.desired(new)
        started: list[str] = []
        for replica, retiring in zip((1, 2), olds, strict=True):
            task = engine.start_task(newer, new, replica, "r2")
            started += [c.name for c in task.containers if c.role != "keeper"]
            engine.remove_task(retiring)
        migrate = OneOffDef(
            service="app",
            name="migrate",
            container=writer("migrate", 100).model_copy(
                update={"env": {"COUNT": "100", "PAUSE": "0.01"}}
            ),
        )
        result = engine.run_oneoff(newer, migrate, "r2", lambda line: None)
        assert result.exit_code == 0, result.log_tail
        wait_for(
            lambda: len(follow.tokens("done")) == 9, 60, "the new replicas' and the task's lines"
        )
        wait_for(lambda: len(follow.tokens("bye")) == 4, 60, "the old replicas' last lines")
    finally:
        shown = follow.close()

    tokens = by_token(shown)
    assert len(tokens) == 9, sorted(tokens)
    byes = follow.tokens("bye")
    for token, lines in tokens.items():
        names = {e.source.name for e in lines}
        assert len(names) == 1, names  # a token is one container's
        source = lines[0].source
        if source.kind == "task":
            assert same_lines(lines, numbered(100, "done"))
            assert lines[0].prefix == "app/migrate"
        elif token in byes:  # an old replica, read to its end
            assert same_lines(lines, numbered(count, "done", "bye"))
        else:  # a new one, read from its first line
            assert same_lines(lines, numbered(count, "done"))
            assert source.name in started
        for e in lines:
            if e.line.text.split()[1].isdigit():
                assert e.line.stream == (
                    "stderr" if int(e.line.text.split()[1]) % 3 == 0 else "stdout"
                )
        times = [e.line.time for e in lines]
        assert times == sorted(times)
    prefixes = {e.prefix for e in shown}
    assert prefixes == {"app.1", "app.1/side", "app.2", "app.2/side", "app/migrate"}


def test_since_until_tail_and_grep_select_lines(engine: DockerEngine, test_run: Run) -> None:
    app = service("app", writer("app", 100), writer("side", 100, sidecar=True))
    other = service("other", writer("other", 10))
    desired = test_run.desired(app, other)
    engine.ensure_network(desired)
    engine.start_task(desired, app, 1, "r1")
    engine.start_task(desired, other, 1, "r1")
    known = ["app", "other"]

    def read(**query: object) -> list[Entry]:
        q = LogQuery(**query)  # type: ignore[arg-type]
        return list(read_logs(engine, sources_of(engine, test_run.environment, q, known), q))

    wait_for(lambda: sum(e.line.text.endswith(" done") for e in read()) == 3, 60, "the lines")
    every = read()
    assert len(every) == 100 + 1 + 100 + 1 + 10 + 1
    times = [e.line.time for e in every]
    assert times == sorted(times)  # one time order across the containers

    mains = [e for e in every if e.prefix == "app.1"]
    cut = mains[49].line.time
    until = [e for e in read(services=("app",), until=cut) if e.prefix == "app.1"]
    assert until == [e for e in mains if e.line.time <= cut]  # --until includes its time
    assert len(until) >= 50
    since = [e for e in read(services=("app",), since=cut) if e.prefix == "app.1"]
    assert since == [e for e in mains if e.line.time >= cut]
    assert until[-1] == since[0]  # the line at the time itself, in both

    tails = read(tail=3)
    assert {e.prefix: sorted(words([x for x in tails if x.prefix == e.prefix])) for e in tails} == {
        "app.1": ["98", "99", "done"],
        "app.1/side": ["98", "99", "done"],
        "other.1": ["8", "9", "done"],
    }
    sevens = read(services=("other",), grep=re.compile(r" 7$"))
    assert [(e.prefix, words([e])[0]) for e in sevens] == [("other.1", "7")]
    assert {e.source.service for e in read(services=("other",))} == {"other"}


def test_a_source_is_named_by_its_labels_and_its_driver_read(
    engine: DockerEngine, test_run: Run
) -> None:
    app = service("app", writer("app", 1))
    desired = test_run.desired(app)
    engine.ensure_network(desired)
    task = engine.start_task(desired, app, 3, "r1")
    found: list[LogSource] = engine.log_sources(test_run.environment)
    assert [(s.name, s.service, s.replica, s.role) for s in found] == [
        (task.task, "app", 3, "main")
    ]
    info = engine.log_driver(found[0])
    assert (info.driver, info.readable) == ("json-file", True)


def test_a_driver_that_sends_lines_away_is_read_from_the_engines_cache_or_said_to_keep_none(
    engine: DockerEngine, test_run: Run
) -> None:
    """Docker 20.10 keeps a local copy of what syslog (and the other remote
    drivers) send ("dual logging"), unless ``cache-disabled``; a UDP socket on
    127.0.0.1 stands in for the syslog server, and gets the line too."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(30)
        address = f"udp://127.0.0.1:{server.getsockname()[1]}"
        kept = writer("kept", 3).model_copy(
            update={"log": LogDef(driver="syslog", options={"syslog-address": address})}
        )
        gone = writer("gone", 3).model_copy(
            update={
                "log": LogDef(
                    driver="syslog", options={"syslog-address": address, "cache-disabled": "true"}
                )
            }
        )
        desired = test_run.desired(service("kept", kept), service("gone", gone))
        engine.ensure_network(desired)
        for svc in desired.services:
            engine.start_task(desired, svc, 1, "r1")
        sources = {s.service: s for s in engine.log_sources(test_run.environment)}
        q = LogQuery()
        wait_for(
            lambda: any(
                e.line.text.endswith(" done") for e in read_logs(engine, [sources["kept"]], q)
            ),
            30,
            "the cached lines",
        )
        assert list(read_logs(engine, [sources["gone"]], q)) == []
        assert engine.log_driver(sources["kept"]).readable
        assert not engine.log_driver(sources["gone"]).readable
        notes = unread_drivers(engine, list(sources.values()))
        assert any(n.startswith("gone.1: the syslog driver keeps nothing") for n in notes), notes
        assert any(n.startswith("kept.1: the syslog driver sends these lines away") for n in notes)
        received = server.recv(4096).decode()  # the first line, "<token> 0", on stderr
        assert received.startswith("<") and received.rstrip().endswith(" 0"), received


def test_every_line_reaches_a_central_rsyslog_once(
    engine: DockerEngine, test_run: Run, client: docker.DockerClient
) -> None:
    """The environment's ``logging:`` sends every container's output through the
    engine's syslog driver to an rsyslog accessory (Debian's, in an image built
    FROM the base), whose port is published on 127.0.0.1: the driver connects
    from the engine's host. Each line services and a one-off task write is
    counted there."""
    image = f"dockyard-test/rsyslog:{test_run.id}"
    engine.build(
        BuildRequest(
            service="central",
            context=IMAGES / "rsyslog",
            dockerfile="Dockerfile",
            tag=image,
            args={"BASE_IMAGE": BASE_IMAGE},
            labels=test_run.labels,
        ),
        lambda line: None,
    )
    port = free_udp_port()
    central = ServiceDef(
        name="central",
        kind="accessory",
        task=TaskDef(
            containers=[
                ContainerDef(
                    name="central",
                    image=image,
                    ports=[PortDef(name="syslog", port=5514, protocol="udp", publish=port)],
                    stop_grace=1.0,
                )
            ]
        ),
    )
    migrate = OneOffDef(
        service="app",
        name="migrate",
        container=writer("migrate", 30).model_copy(
            update={"env": {"COUNT": "30", "PAUSE": "0.01"}}
        ),
    )
    app = service("app", writer("app", 50), writer("side", 50, sidecar=True), tasks=[migrate])
    logging = LoggingConfig(
        driver="syslog",
        options={"syslog-address": f"udp://127.0.0.1:{port}", "tag": "{{.Name}}"},
    )
    services = with_logging({"central": central, "app": app}, logging)
    desired = test_run.desired(*services.values())
    engine.ensure_network(desired)
    server = engine.start_task(desired, services["central"], 1, "r1")
    assert server.main is not None
    server_id = server.main.id

    def received() -> list[str]:
        code, text = engine.exec(server_id, ["cat", "/var/log/central/all.log"])
        return text.splitlines() if code == 0 else []

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:

        def listening() -> bool:
            probe.sendto(b"<14>probe: ready", ("127.0.0.1", port))
            return any(line == "probe ready" for line in received())

        wait_for(listening, 60, "rsyslog to listen")
    engine.start_task(desired, services["app"], 1, "r1")
    logged_task = services["app"].tasks[0]  # the environment's logging reaches tasks too
    assert logged_task.container.log is not None
    assert engine.run_oneoff(desired, logged_task, "r1", lambda line: None).exit_code == 0

    def lines_of_app() -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for line in received():
            tag, _, message = line.partition(" ")
            if tag.startswith(f"{test_run.environment}-app"):
                found[tag].append(message)
        return found

    wait_for(
        lambda: sum(m[-1].endswith(" done") for m in lines_of_app().values() if m) == 3,
        60,
        "every container's last line at rsyslog",
    )
    got = lines_of_app()
    assert len(got) == 3, sorted(got)  # the main, the sidecar, the task
    for tag, messages in got.items():
        count = 30 if "migrate" in tag else 50
        numbers = [m.split(" ")[1] for m in messages]
        assert sorted(numbers) == sorted([*map(str, range(count)), "done"]), (tag, messages)
