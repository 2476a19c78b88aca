"""What changing or breaking the ingress costs in requests, under steady load.

One environment on the local engine: two replicas of the engine tests' web
server behind the ingress (holder + Caddy) and the environment's supervisor,
deployed with Dockyard's apply. Two load clients (each alternating a keep-alive
connection and a new connection per request) send GET / to the holder's
published port on 127.0.0.1. Each fault, in turn:

  upgrade       a new ingress image (another image ID): a deploy replaces Caddy
                beside the old one in the holder's namespace
  restart       `docker restart` of the Caddy container (SIGTERM, then start)
  kill          `docker kill` of the Caddy container; the supervisor starts it
                again and Caddy resumes its saved routes
  kill-holder   `docker kill` of the holder; the supervisor starts it again and
                restarts the Caddy that had joined its namespace
  replica       `docker kill` of one web replica; the supervisor starts it again
  holder        one more proxied service (the holder's aliases change): a deploy
                replaces the holder (stop-first: it publishes the port) and Caddy

The peer, measured in the same run under the same load: the ingress as one
Caddy container that publishes its own port, the way a compose file runs it
(restart policy `unless-stopped`), with the same routes to the same replicas:

  peer-restart  `docker restart` of that container
  peer-upgrade  what `docker compose up` does for a new image: stop and remove
                the container, then create and start one from the other image
                (its routes are in its saved config, so it serves at once)

A `docker kill` of the peer has no figure: Docker does not restart a container
its owner killed, so the peer stays down until someone starts it.

A fault's requests are counted from the moment it starts until both clients
have been served PER_STEP requests after it ended (for a kill: after the killed
container runs again); a failure is anything but a 200.

With --second-caddy (restart and kill only) a second Caddy container, started
by hand in the holder's namespace with the same routes, serves beside the one
Dockyard manages: what the faults would cost if the ingress ran two.

Everything the bench creates carries its label and is removed at the end, also
on failure. Traffic goes only to 127.0.0.1.

Usage: python bench/ingress.py [--runs N] [--only FAULT,...] [--second-caddy]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    BASE_IMAGE,
    build_ingress,
    build_web,
    free_port,
    ingress_desired,
    labelled_run,
    web_health,
    web_service,
)

from dockyard.deploy.apply import apply  # noqa: E402
from dockyard.discovery import HOLDER_SERVICE, INGRESS_SERVICE, IngressClient  # noqa: E402
from dockyard.engines.docker import DockerEngine  # noqa: E402
from dockyard.engines.docker.observe import started_at  # noqa: E402
from dockyard.plan.diff import plan  # noqa: E402
from dockyard.plan.ingress import SYSCTLS  # noqa: E402
from dockyard.plan.model import DesiredState, network_name  # noqa: E402
from dockyard.plan.supervisor import supervisor_service  # noqa: E402
from dockyard.supervise import supervisor_build  # noqa: E402
from tests.fixtures.load import Load, served_since  # noqa: E402

BENCH_LABEL = "dockyard-bench.ingress"
PER_STEP = 200
"""Requests each client must be served after a fault before it counts as over."""
FAULTS = (
    "upgrade",
    "restart",
    "kill",
    "kill-holder",
    "replica",
    "holder",
    "peer-restart",
    "peer-upgrade",
)
BACK = 120.0
"""Seconds a killed container may take to run again before the bench gives up."""
PEER_CONFIG = "/config/caddy/autosave.json"
"""Where Caddy (run with --resume) finds its routes when its container starts."""
HEALTH = web_health()


@dataclasses.dataclass
class Bench:
    engine: DockerEngine
    client: docker.DockerClient
    run: str
    web_image: str
    ingress_images: tuple[str, str]
    supervisor_image: str
    public_port: int
    peer_port: int
    generation: int = 0
    extra: int = 0  # proxied services beyond web (the holder's aliases)

    @property
    def environment(self) -> str:
        return f"bench-{self.run}"

    @property
    def labels(self) -> dict[str, str]:
        return {BENCH_LABEL: self.run}

    def desired(self) -> DesiredState:
        names = ["web", *(f"extra{n}" for n in range(1, self.extra + 1))]
        return ingress_desired(
            self.environment,
            web_service(self.web_image, HEALTH),
            holder_image=self.ingress_images[0],
            caddy_image=self.ingress_images[self.generation % 2],
            public_port=self.public_port,
            labels=self.labels,
            proxied=names,
            services=[supervisor_service(self.environment, self.supervisor_image)],
        )

    def deploy(self) -> None:
        desired = self.desired()
        actual = self.engine.observe(self.environment)
        apply(self.engine, desired, actual, plan(desired, actual), f"r{time.time_ns()}")

    def caddy(self) -> docker.models.containers.Container:
        return self.one(INGRESS_SERVICE)

    def one(self, service: str) -> docker.models.containers.Container:
        (found,) = self.running(service)
        return found

    def running(self, service: str) -> list[docker.models.containers.Container]:
        return list(
            self.client.containers.list(
                filters={
                    "label": [f"dockyard.env={self.environment}", f"dockyard.service={service}"]
                }
            )
        )

    def second_caddy(self) -> None:
        """A Caddy beside the managed one, in the holder's namespace, with its routes.
        It carries the bench label only: Dockyard does not see it."""
        first = self.caddy()
        second = self.client.containers.run(
            self.ingress_images[0],
            detach=True,
            network_mode=f"container:{self.one(HOLDER_SERVICE).id}",
            labels=self.labels,
        )
        admin = IngressClient(self.engine, second.id)
        admin.wait_ready(30)
        admin.load(IngressClient(self.engine, first.id).config())

    # ------------------------------------------------------------ faults

    def upgrade(self) -> None:
        self.generation += 1
        self.deploy()

    def restart(self) -> None:
        self.caddy().restart()

    def kill(self) -> None:
        self.kill_and_wait(self.caddy())

    def kill_holder(self) -> None:
        holder = self.one(HOLDER_SERVICE)
        self.kill_and_wait(holder)
        since = started_at(holder.attrs["State"]["StartedAt"])
        assert since is not None

        def caddy_after() -> bool:
            started = started_at(self.caddy().attrs["State"]["StartedAt"])
            return started is not None and started > since

        wait_until(caddy_after, "Caddy started again in the holder's namespace")

    def replica(self) -> None:
        self.kill_and_wait(self.running("web")[0])

    def kill_and_wait(self, container: docker.models.containers.Container) -> None:
        """``docker kill`` of ``container``; returns once it runs again."""
        container.kill()

        def back() -> bool:
            container.reload()
            return bool(container.attrs["State"]["Running"])

        wait_until(back, f"{container.name} running again")

    def holder(self) -> None:
        self.extra += 1
        self.deploy()

    # -------------------------------------------------------------- peer

    def peer_config(self) -> bytes:
        """The managed Caddy's routes, listening where the peer listens."""
        return json.dumps(IngressClient(self.engine, self.caddy().id).config()).encode()

    def start_peer(self, image: str, config: bytes) -> None:
        """A Caddy of its own on the environment's network, publishing ``peer_port``,
        starting with ``config`` (Caddy's --resume reads its saved config)."""
        peer = self.client.containers.create(
            image,
            name=f"dockyard-bench-peer-{self.run}",
            labels=self.labels,
            network=network_name(self.environment),
            ports={"80/tcp": ("127.0.0.1", self.peer_port)},
            sysctls=dict(SYSCTLS),
            restart_policy={"Name": "unless-stopped"},
        )
        peer.put_archive("/", saved_config(config, self.caddy_uid()))
        peer.start()

    def caddy_uid(self) -> int:
        code, output = self.caddy().exec_run(["id", "-u"])
        assert code == 0, output
        return int(output)

    def peer(self) -> docker.models.containers.Container:
        return self.client.containers.get(f"dockyard-bench-peer-{self.run}")

    def peer_restart(self) -> None:
        self.peer().restart()

    def peer_upgrade(self) -> None:
        self.generation += 1
        config = self.peer_config()
        old = self.peer()
        old.stop()
        old.remove()
        self.start_peer(self.ingress_images[self.generation % 2], config)


def saved_config(config: bytes, uid: int) -> bytes:
    """A tar archive of Caddy's saved config (and its folder), owned by ``uid``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo(str(Path(PEER_CONFIG).parent).lstrip("/"))
        folder.type, folder.mode, folder.uid, folder.gid = tarfile.DIRTYPE, 0o755, uid, uid
        tar.addfile(folder)
        entry = tarfile.TarInfo(PEER_CONFIG.lstrip("/"))
        entry.size, entry.mode, entry.uid, entry.gid = len(config), 0o600, uid, uid
        tar.addfile(entry, io.BytesIO(config))
    return buffer.getvalue()


def wait_until(condition: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + BACK
    while time.monotonic() < deadline:
        with contextlib.suppress(docker.errors.NotFound, ValueError):
            found = condition()
            if found:
                return found
        time.sleep(0.05)
    raise SystemExit(f"no {what} within {BACK:.0f} s")


PEERS = {"restart": "peer-restart", "upgrade": "peer-upgrade"}
"""Which peer figure each of Dockyard's is compared with."""


@dataclasses.dataclass
class Tally:
    served: int = 0
    failed: int = 0
    worst: float = 0.0  # longest run of failures, seconds

    def add(self, clients: tuple[Load, Load], marks: tuple[int, int]) -> None:
        for load, (served, failed) in zip(clients, marks, strict=True):
            self.served += load.served - served
            self.failed += len(load.failures) - failed
        outages = [end - start for load in clients for start, end in load.outages]
        self.worst = max([self.worst, *outages])


def measure(bench: Bench, fault: Callable[[], None], port: int, tally: Tally) -> None:
    clients = (Load(port, max_seconds=600), Load(port, max_seconds=600))
    with clients[0], clients[1]:
        for load in clients:
            served_since(load, 0, PER_STEP)
        marks = (
            (clients[0].served, len(clients[0].failures)),
            (clients[1].served, len(clients[1].failures)),
        )
        fault()
        for load in clients:
            served_since(load, load.served, PER_STEP, timeout=120)
    tally.add(clients, marks)


def build(engine: DockerEngine, run: str) -> tuple[str, tuple[str, str], str]:
    labels = {BENCH_LABEL: run}
    web = build_web(engine, run, labels)
    tags = [
        build_ingress(
            engine,
            f"dockyard-bench/ingress:{run}-{generation}",
            {**labels, "dockyard-bench.generation": generation},
        )
        for generation in ("1", "2")
    ]
    supervisor = dataclasses.replace(
        supervisor_build(BASE_IMAGE), tag=f"dockyard-bench/supervisor:{run}", labels=labels
    )
    engine.build(supervisor, lambda line: None)
    return web, (tags[0], tags[1]), str(supervisor.tag)


@contextlib.contextmanager
def bench_environment() -> Iterator[Bench]:
    with labelled_run(BENCH_LABEL) as (engine, run):
        web, ingress, supervisor = build(engine, run)
        ports = free_port(), free_port()
        bench = Bench(engine, engine.client, run, web, ingress, supervisor, *ports)
        bench.deploy()
        bench.start_peer(ingress[0], bench.peer_config())
        yield bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="times each fault is measured")
    parser.add_argument("--only", default=",".join(FAULTS), help="faults, comma-separated")
    parser.add_argument(
        "--second-caddy", action="store_true", help="a second Caddy serves beside the first"
    )
    args = parser.parse_args()
    faults = [f for f in args.only.split(",") if f]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        parser.error(f"unknown faults: {', '.join(unknown)}")
    if args.second_caddy and set(faults) - {"restart", "kill", "kill-holder"}:
        parser.error("--second-caddy goes with --only restart,kill")
    tallies = {fault: Tally() for fault in faults}
    with bench_environment() as bench:
        if args.second_caddy:
            bench.second_caddy()
        for n in range(args.runs):
            for fault in faults:
                port = bench.peer_port if fault.startswith("peer-") else bench.public_port
                measure(bench, getattr(bench, fault.replace("-", "_")), port, tallies[fault])
                print(f"run {n + 1} {fault}: {tallies[fault]}", file=sys.stderr)
    caddys = "two Caddys" if args.second_caddy else "one Caddy"
    print(f"\n{args.runs} run(s) of each fault, {caddys}, two clients under steady load\n")
    print("| fault | failed / total | longest outage | vs the peer's |")
    print("|-------|----------------|----------------|---------------|")
    for fault, tally in tallies.items():
        total = tally.served + tally.failed
        peer = tallies.get(PEERS.get(fault, ""))
        ratio = f"{tally.failed / peer.failed:.2f}x" if peer and peer.failed else ""
        print(f"| {fault} | {tally.failed} / {total} | {tally.worst:.2f} s | {ratio} |")


if __name__ == "__main__":
    main()
