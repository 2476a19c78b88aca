"""How fast a new replica joins the catalog and the ingress's rotation, in one run.

One environment on the local engine: the engine tests' web server (two
replicas, Docker's health check every second) behind the ingress (holder +
Caddy), deployed with Dockyard's apply. Each run: web is scaled to three
replicas, then rolled out to the other version (MESSAGE v1 / v2: three new
replicas, start-first, one at a time), then scaled back to two. For each new
replica, from its first passing health check (the end of the first success in
Docker's record of the probe, ``State.Health.Log``) to:

- its presence in the catalog (what `dockyard catalog` reads), polled every 20 ms;
- Dockyard's readiness wait seeing it healthy (its "ready" event), and the
  return of the load that put it into rotation (its "in rotation" event);
- with --admin, its upstream in the config Caddy runs, read through the admin
  API as Dockyard reads it: an exec into the Caddy container, one after
  another, each taken at its return (so late by up to one such call, and
  competing with Dockyard's own load for the engine and the CPU: off by
  default);
- the first request through the ingress on 127.0.0.1 that the replica answers
  (it answers with its hostname, its container's short id). One client asks
  every 10 ms and Caddy picks replicas round robin, so this is late by up to
  three requests.

What sets the moment: Dockyard's readiness wait sees the healthy state (it
looks every 0.2 s), and the rollout loads the new routes into Caddy at once (a
scale adds the replica; a rollout adds it and takes an old one out in the same
load), through an exec into the Caddy container that runs a short python3
program on the admin socket. Caddy serves the new routes before that exec has
returned.

The peer, measured in the same run on the same replicas: a proxy that admits a
replica on its own probe, the way kamal-proxy admits a new target (it probes
the target's health path, every second by default, and switches to it once it
passes). Here it is a Caddy of its own (the same image) on the environment's
network, publishing another port on 127.0.0.1, told every replica name
beforehand (both versions, replicas 1 to 3) and probing them with its active
health check every second on ``/healthz?peer``. The replica logs each such
probe, so Docker's timestamps of its log lines give the peer's first passing
probe; the figure is from there to the first request through the peer that the
replica answers, asked the same way. Docker compose has no such figure: a new
container gets requests from Docker's DNS as soon as it starts, healthy or not.

Everything the bench creates carries its label and is removed at the end, also
on failure. Traffic goes only to 127.0.0.1.

Usage: python bench/probe.py [--runs N] [--admin]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    WEB_PORT,
    build_ingress,
    build_web,
    free_port,
    ingress_desired,
    labelled_run,
    load_average,
    parse_stamp,
    web_health,
    web_service,
)

from dockyard.deploy.apply import apply  # noqa: E402
from dockyard.discovery import (  # noqa: E402
    INGRESS_SERVICE,
    HealthProbe,
    IngressClient,
    ProxiedService,
    PublicRoute,
    RoutingTable,
    caddy_config,
)
from dockyard.discovery.caddy import DRAINING_VAR  # noqa: E402
from dockyard.discovery.catalog import catalog_of  # noqa: E402
from dockyard.engines.docker import DockerEngine  # noqa: E402
from dockyard.events import Event, Reporter, silent  # noqa: E402
from dockyard.plan.diff import plan  # noqa: E402
from dockyard.plan.ingress import SYSCTLS  # noqa: E402
from dockyard.plan.model import DesiredState, PortDef, network_name, task_name  # noqa: E402

BENCH_LABEL = "dockyard-bench.probe"
INTERVAL = 1.0
"""Seconds between two health checks, Docker's and the peer's."""
HEALTH = web_health(INTERVAL, timeout=5.0)
VERSIONS = ("v1", "v2")
REPLICAS = 2
PEER_PROBE = "/healthz?peer"
"""The peer's health path: the web server logs it (it does not log /healthz)."""
POLL = 0.02
PAUSE = 0.01
"""Seconds a client waits between two requests."""
DEADLINE = 120.0
"""Seconds a new replica may take to show in every place watched."""


@dataclasses.dataclass
class Bench:
    engine: DockerEngine
    run: str
    web_image: str
    ingress_image: str
    public_port: int
    peer_port: int

    @property
    def environment(self) -> str:
        return f"bench-{self.run}"

    @property
    def labels(self) -> dict[str, str]:
        return {BENCH_LABEL: self.run}

    def desired(self, version: str, replicas: int) -> DesiredState:
        return ingress_desired(
            self.environment,
            web_service(
                self.web_image,
                HEALTH,
                replicas=replicas,
                env={"MESSAGE": version},
                ports=[PortDef(name="http", port=WEB_PORT)],  # what the catalog lists
            ),
            holder_image=self.ingress_image,
            caddy_image=self.ingress_image,
            public_port=self.public_port,
            labels=self.labels,
        )

    def deploy(self, version: str, replicas: int, report: Reporter = silent) -> None:
        desired = self.desired(version, replicas)
        actual = self.engine.observe(self.environment)
        release = f"r{time.time_ns()}"
        apply(self.engine, desired, actual, plan(desired, actual), release, report)

    def web(self) -> dict[str, str]:
        """The web replicas that run: container id -> task name."""
        tasks = self.engine.observe(self.environment).tasks_of("web")
        return {t.main.id: t.task for t in tasks if t.main is not None}

    def caddy(self) -> IngressClient:
        tasks = self.engine.observe(self.environment).tasks_of(INGRESS_SERVICE)
        (caddy,) = [t for t in tasks if t.running and t.main is not None]
        assert caddy.main is not None
        return IngressClient(self.engine, caddy.main.id)

    def listed(self) -> set[str]:
        """The web replicas in the catalog (task names)."""
        actual = self.engine.observe(self.environment)
        found = catalog_of(actual, self.engine.addresses(self.environment), [("web", "service")])
        return {e.task for e in found.service("web").endpoints}

    # -------------------------------------------------------------- peer

    def peer_dials(self) -> list[str]:
        """Every replica web may run in this bench, as the peer dials it."""
        names = []
        for version in VERSIONS:
            task = self.desired(version, REPLICAS + 1).service("web").task
            for replica in range(1, REPLICAS + 2):
                names.append(task_name(self.environment, "web", replica, task.spec_hash()))
        return sorted(f"{name}:{WEB_PORT}" for name in names)

    def start_peer(self) -> None:
        container = self.engine.client.containers.run(
            self.ingress_image,
            detach=True,
            name=f"dockyard-bench-peer-{self.run}",
            labels=self.labels,
            network=network_name(self.environment),
            ports={"80/tcp": ("127.0.0.1", self.peer_port)},
            sysctls=dict(SYSCTLS),
        )
        admin = IngressClient(self.engine, str(container.id))
        admin.wait_ready(60)
        probe = HealthProbe(path=PEER_PROBE, port=WEB_PORT, interval=INTERVAL, timeout=1.0)
        web = ProxiedService(name="web", upstreams={WEB_PORT: self.peer_dials()}, health=probe)
        table = RoutingTable(services=[web], routes=[PublicRoute(service="web", port=WEB_PORT)])
        admin.load(caddy_config(table))

    def peer_probe(self, container: str) -> float | None:
        """When the peer's first probe of ``container`` was answered (Docker's
        timestamp of the line the replica logs for it)."""
        logs = self.engine.api.logs(container, stdout=True, stderr=False, timestamps=True)
        for line in logs.decode("utf-8", "replace").splitlines():
            stamp, _, text = line.partition(" ")
            if text.strip() == f"GET {PEER_PROBE}":
                return parse_stamp(stamp)
        return None

    def first_healthy_probe(self, container: str) -> float | None:
        """When the first passing health check of ``container`` ended (Docker's record)."""
        info = self.engine.api.inspect_container(container)
        log = ((info.get("State") or {}).get("Health") or {}).get("Log") or []
        ends = [entry["End"] for entry in log if entry.get("ExitCode") == 0]
        return parse_stamp(ends[0]) if ends else None


class Answers:
    """Requests to 127.0.0.1:``port`` one after another from a thread, on one
    keep-alive connection (a new one after any failure), bounded in time and
    count; ``first`` keeps when (``time.time()``) each replica first answered."""

    def __init__(self, port: int, max_seconds: float, max_requests: int = 1_000_000) -> None:
        self.port = port
        self.first: dict[str, float] = {}
        self.served = 0
        self.failed = 0
        self._deadline = time.monotonic() + max_seconds
        self._max = max_requests
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        sent = 0
        while not self._stop.is_set() and sent < self._max and time.monotonic() < self._deadline:
            sent += 1
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                connection.request("GET", "/")
                response = connection.getresponse()
                body = response.read().decode("utf-8", "replace")
                now = time.time()
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
                self.failed += 1
            else:
                if response.status == 200:
                    self.served += 1
                    self.first.setdefault(body.strip().rpartition(" from ")[2], now)
                else:
                    self.failed += 1
            time.sleep(PAUSE)
        if connection is not None:
            connection.close()


class Firsts:
    """Polls ``read`` (a set of names) from a thread until stopped; ``first`` keeps
    when (``time.time()``, once the read returned) each name was first in it."""

    def __init__(self, read: Callable[[], set[str]], pause: float = POLL) -> None:
        self.first: dict[str, float] = {}
        self.errors = 0
        self._read, self._pause = read, pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                found = self._read()
            except Exception:  # a replica stopping mid-read; the next read tells
                self.errors += 1
            else:
                now = time.time()
                for name in found:
                    self.first.setdefault(name, now)
            time.sleep(self._pause)


class Healthy:
    """Docker's first passing health check of each web replica, read as soon as
    there is one: Docker keeps the last five checks only."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.first: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        labels = [f"dockyard.env={self.bench.environment}", "dockyard.service=web"]
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # a container going away
                for found in self.bench.engine.api.containers(filters={"label": labels}):
                    container = str(found["Id"])
                    if container not in self.first:
                        at = self.bench.first_healthy_probe(container)
                        if at is not None:
                            self.first[container] = at
            time.sleep(0.05)


def live_upstreams(config: Mapping[str, Any]) -> set[str]:
    """The dial addresses of every route in ``config`` that takes requests (not the
    route of the draining ones)."""
    found: set[str] = set()
    servers = config.get("apps", {}).get("http", {}).get("servers", {})
    for server in servers.values():
        for route in server.get("routes", []):
            if any(DRAINING_VAR in m.get("vars", {}) for m in route.get("match", [])):
                continue
            for handler in route.get("handle", []):
                found |= {u["dial"] for u in handler.get("upstreams", [])}
    return found


@dataclasses.dataclass
class Joined:
    """Seconds from one new replica's first passing check to each place."""

    ready: float  # Dockyard's readiness wait saw it healthy
    loaded: float  # the load that put it into rotation returned
    catalog: float
    admin: float | None
    ingress: float
    peer: float  # from the peer's first passing probe to its first answer through the peer


@dataclasses.dataclass
class Watchers:
    bench: Bench
    healthy: Healthy
    ingress: Answers
    peer: Answers
    admin: bool

    @contextlib.contextmanager
    def deploy(self) -> Iterator[Deploy]:
        """Around one deploy, which reports to the ``Deploy`` yielded: then what each
        replica it started took to join."""
        bench = self.bench
        before = bench.web()
        catalog = Firsts(bench.listed)
        caddy = bench.caddy()
        config = Firsts(lambda: live_upstreams(caddy.config()), 0.05) if self.admin else None
        deploy = Deploy()
        try:
            yield deploy
            new = {c: t for c, t in bench.web().items() if c not in before}
            deploy.joined += self._wait(new, deploy, catalog, config)
        finally:
            catalog.stop()
            if config is not None:
                config.stop()

    def _wait(
        self, new: Mapping[str, str], deploy: Deploy, catalog: Firsts, config: Firsts | None
    ) -> list[Joined]:
        dials = set(self.bench.peer_dials())
        deadline = time.monotonic() + DEADLINE
        found = []
        for container, task in new.items():
            if dial_of(task) not in dials:
                raise SystemExit(f"{task} is not among the peer's upstreams")
            host = container[:12]
            while True:
                probe = self.healthy.first.get(container)
                peer_probe = self.bench.peer_probe(container)
                admin = config.first.get(dial_of(task)) if config is not None else 0.0
                seen = (catalog.first.get(task), admin, self.ingress.first.get(host))
                peer = self.peer.first.get(host)
                if None not in (probe, peer_probe, peer, *seen):
                    break
                if time.monotonic() > deadline:
                    names = ("its first passing check", "the peer's first probe", "the peer")
                    names += ("the catalog", "Caddy's config", "the ingress")
                    values = (probe, peer_probe, peer, *seen)
                    missing = ", ".join(n for n, v in zip(names, values, strict=True) if v is None)
                    raise SystemExit(f"{task} not seen within {DEADLINE:g}s in: {missing}")
                time.sleep(0.1)
            assert probe is not None and peer_probe is not None and peer is not None
            listed, upstream, answered = (s or 0.0 for s in seen)
            ready, loaded = deploy.ready.get(task), deploy.in_rotation.get(task)
            if ready is None or loaded is None:
                raise SystemExit(f"the deploy did not say when {task} was ready and in rotation")
            found.append(
                Joined(
                    ready=ready - probe,
                    loaded=loaded - probe,
                    catalog=listed - probe,
                    admin=upstream - probe if config is not None else None,
                    ingress=answered - probe,
                    peer=peer - peer_probe,
                )
            )
        return found


class Deploy:
    """What one deploy reported: when (``time.time()``) each task was ready and
    when the load that put it into rotation returned; then what each took."""

    def __init__(self) -> None:
        self.ready: dict[str, float] = {}
        self.in_rotation: dict[str, float] = {}
        self.joined: list[Joined] = []

    def report(self, event: Event) -> None:
        now = time.time()
        if event.kind == "ready" and event.message.endswith(" is ready"):
            self.ready.setdefault(event.message.removesuffix(" is ready"), now)
        elif event.kind == "route" and event.message.endswith(" in rotation"):
            for task in event.message.removesuffix(" in rotation").split(", "):
                self.in_rotation.setdefault(task, now)


def dial_of(task: str) -> str:
    return f"{task}:{WEB_PORT}"


def show(label: str, values: list[float]) -> float:
    median = statistics.median(values)
    runs = " ".join(f"{v:5.2f}" for v in values)
    print(f"  {label:<40} median {median:5.2f} s   samples: {runs}")
    return median


def report(kind: str, joined: list[Joined]) -> tuple[float, float]:
    print(f"{kind}: from its first passing check (Docker's) to")
    show("the catalog", [j.catalog for j in joined])
    show("Dockyard's readiness wait seeing it", [j.ready for j in joined])
    show("the load into rotation returning", [j.loaded for j in joined])
    admin = [j.admin for j in joined if j.admin is not None]
    if admin:
        show("Caddy's config (admin API)", admin)
    ingress = show("its first answer through the ingress", [j.ingress for j in joined])
    print("  peer: from its first passing probe (the peer's) to")
    peer = show("its first answer through the peer", [j.peer for j in joined])
    return ingress, peer


@contextlib.contextmanager
def bench_environment() -> Iterator[Bench]:
    with labelled_run(BENCH_LABEL) as (engine, run):
        web = build_web(engine, run, {BENCH_LABEL: run})
        ingress = build_ingress(engine, f"dockyard-bench/ingress:{run}", {BENCH_LABEL: run})
        bench = Bench(engine, run, web, ingress, free_port(), free_port())
        bench.deploy(VERSIONS[0], REPLICAS)
        bench.start_peer()
        yield bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--admin", action="store_true", help="read Caddy's config meanwhile, through its admin API"
    )
    args = parser.parse_args()
    print(f"a new replica into the catalog and the ingress ({load_average()})", flush=True)
    scaled: list[Joined] = []
    rolled: list[Joined] = []
    with bench_environment() as bench:
        limit = 300 + 120 * args.runs
        ingress, peer = Answers(bench.public_port, limit), Answers(bench.peer_port, limit)
        healthy = Healthy(bench)
        watchers = Watchers(bench, healthy, ingress, peer, admin=args.admin)
        try:
            for n in range(args.runs):
                version, other = VERSIONS[n % 2], VERSIONS[(n + 1) % 2]
                with watchers.deploy() as scale:
                    bench.deploy(version, REPLICAS + 1, scale.report)
                scaled += scale.joined
                with watchers.deploy() as rollout:
                    bench.deploy(other, REPLICAS + 1, rollout.report)
                rolled += rollout.joined
                bench.deploy(other, REPLICAS)
                print(f"run {n + 1}: {scale.joined}; rollout: {rollout.joined}", file=sys.stderr)
        finally:
            for watcher in (ingress, peer, healthy):
                watcher.stop()
    print(f"  web: {REPLICAS} replicas, health checked every {INTERVAL:g} s; {args.runs} runs")
    print(f"  requests through the ingress: {ingress.served} served, {ingress.failed} failed")
    print(f"  requests through the peer: {peer.served} served, {peer.failed} failed")
    ratios = []
    for kind, joined in (
        (f"a replica added by a scale ({REPLICAS} -> {REPLICAS + 1})", scaled),
        (f"the replicas of a rollout ({REPLICAS + 1}, one at a time)", rolled),
    ):
        ratios.append((kind, *report(kind, joined)))
    print("ratios: first answer through the ingress / through the peer")
    for kind, mine, theirs in ratios:
        ratio = f"{mine / theirs:6.2f}" if theirs > 0 else "   n/a"
        print(f"  {kind:<48} {ratio}")
    print(f"({load_average()})")


if __name__ == "__main__":
    main()
