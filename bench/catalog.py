"""How fast the catalog and the catalog agent follow what runs, in one run.

An environment of one service, `web` (the engine tests' web server), with three
replicas whose health check runs every second (three tries), and the catalog
agent syncing a private etcd (Debian's etcd-server, on 127.0.0.1) every second
under a 5 s lease. For each run:

- kill: `docker kill` of a replica's main container, then the time until it is
  out of the catalog (`catalog`, as `dockyard catalog` reads it) and out of etcd;
- sick: the replica's health check starts failing, then the time until it is out
  of both (Docker needs interval x retries to call it unhealthy);
- new: the killed replica started again (a deploy), then the time from its first
  passing health check (Docker's record of the probe) to its presence in the
  catalog and in etcd.

How a new replica joins the ingress's rotation is measured by bench/probe.py.

The peer: Consul removes an instance whose check failed no sooner than its
documented minimum `deregister_critical_service_after`, 1 minute; the bench
prints that figure beside etcd's and their ratio (it runs no Consul). Everything
the bench creates is removed at the end, also on failure; nothing is sent
anywhere but to this machine. Usage:

  python bench/catalog.py [--runs N]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from common import load_average, parse_stamp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dockyard.deploy.apply import apply  # noqa: E402
from dockyard.discovery.agent import agent_build  # noqa: E402
from dockyard.discovery.catalog import catalog_of  # noqa: E402
from dockyard.engines.docker import DockerEngine  # noqa: E402
from dockyard.engines.model import BuildRequest  # noqa: E402
from dockyard.plan import plan  # noqa: E402
from dockyard.plan.discovery import agent_service  # noqa: E402
from dockyard.plan.model import DesiredState, HealthDef, PortDef  # noqa: E402
from tests.engine.support import BASE_IMAGE, Run, service, web  # noqa: E402
from tests.fixtures.etcd import etcd_keys, etcd_server  # noqa: E402

LABEL = "dockyard.bench"
REPLICAS = 3
INTERVAL, RETRIES = 1.0, 3
TTL = 5.0
CONSUL_MINIMUM = 60.0
"""Consul's documented minimum deregister_critical_service_after."""
GOAL = 3.0
SICK = "/tmp/sick"
CHECK = HealthDef(
    test=[
        "CMD-SHELL",
        f'test ! -e {SICK} && python3 -c "import urllib.request; '
        "urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=1)\"",
    ],
    interval=INTERVAL,
    timeout=2.0,  # python3 may take a while to start on a loaded machine
    retries=RETRIES,
    start_period=0.0,
)
DEADLINE = 120.0


class Bench:
    def __init__(self, engine: DockerEngine, desired: DesiredState, etcd: str) -> None:
        self.engine, self.desired, self.etcd = engine, desired, etcd
        self.name = desired.environment

    def converge(self) -> None:
        actual = self.engine.observe(self.name)
        apply(self.engine, self.desired, actual, plan(self.desired, actual), "r1")

    def listed(self) -> set[int]:
        actual = self.engine.observe(self.name)
        found = catalog_of(actual, self.engine.addresses(self.name), [("web", "service")])
        return {e.replica for e in found.service("web").endpoints}

    def in_etcd(self) -> set[int]:
        held = etcd_keys(self.etcd, f"/dockyard/{self.name}/")
        return {int(str(v["replica"])) for v in held.values()}

    def main_id(self, replica: int) -> str:
        tasks = self.engine.observe(self.name).tasks_of("web")
        (task,) = [t for t in tasks if t.replica == replica]
        assert task.main is not None
        return task.main.id

    def first_healthy_probe(self, replica: int) -> float:
        """When the replica's first passing health check ended (the engine's clock,
        this machine's)."""
        info = self.engine.api.inspect_container(self.main_id(replica))
        log = info["State"]["Health"]["Log"]
        ends = [entry["End"] for entry in log if entry["ExitCode"] == 0]
        return parse_stamp(ends[0])


def until(condition: Callable[[], bool], what: str) -> float:
    """Poll ``condition`` every 20 ms; the wall-clock time it first held."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def both(bench: Bench, wanted: Callable[[set[int]], bool], what: str) -> tuple[float, float]:
    """When the catalog, and when etcd, first satisfied ``wanted`` (polled side by side)."""
    times: dict[str, float] = {}

    def watch(key: str, read: Callable[[], set[int]]) -> None:
        times[key] = until(lambda: wanted(read()), f"{what} ({key})")

    threads = [
        threading.Thread(target=watch, args=("catalog", bench.listed)),
        threading.Thread(target=watch, args=("etcd", bench.in_etcd)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(times) != 2:
        raise SystemExit(f"timed out waiting for {what}")
    return times["catalog"], times["etcd"]


def show(label: str, values: list[float]) -> float:
    median = statistics.median(values)
    runs = " ".join(f"{v:5.2f}" for v in values)
    print(f"  {label:<44} median {median:5.2f} s   runs: {runs}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = DockerEngine()
    run_id = secrets.token_hex(4)
    run = Run(id=run_id, environment=f"bench-{run_id}", labels={LABEL: run_id})
    web_tag = f"dockyard-bench/web:{run_id}"
    agent_tag = f"dockyard-bench/catalog-agent:{run_id}"
    images = ROOT / "tests" / "engine" / "images" / "web"
    engine.build(
        BuildRequest(service="web", context=images, dockerfile="Dockerfile", tag=web_tag),
        lambda line: None,
    )
    request = agent_build(BASE_IMAGE)
    engine.build(
        BuildRequest(request.service, request.context, request.dockerfile, agent_tag, request.args),
        lambda line: None,
    )
    print(f"catalog and etcd after a replica's death or birth ({load_average()})")
    print(f"  web: {REPLICAS} replicas, health every {INTERVAL:g}s x {RETRIES}; agent every 1s")
    kill: dict[str, list[float]] = {"catalog": [], "etcd": []}
    sick: dict[str, list[float]] = {"catalog": [], "etcd": []}
    new: dict[str, list[float]] = {"catalog": [], "etcd": []}
    try:
        with etcd_server() as etcd:
            registrar = {"kind": "etcd", "endpoints": [etcd], "ttl": TTL}
            container = web(web_tag, health=CHECK, ports=[PortDef(name="http", port=8000)])
            desired = run.desired(
                service("web", container, replicas=REPLICAS),
                agent_service(run.environment, agent_tag, [registrar], {}, 1.0),
            )
            bench = Bench(engine, desired, etcd)
            bench.converge()
            every = set(range(1, REPLICAS + 1))
            both(bench, lambda s: s == every, "every replica listed")
            for i in range(args.runs):
                replica = i % REPLICAS + 1
                rest = every - {replica}
                # a replica fails its check
                victim = bench.main_id(replica)
                code = engine.exec(victim, ["touch", SICK])[0]
                assert code == 0
                start = time.time()
                times = both(bench, lambda s, r=rest: s == r, "a sick replica's removal")
                sick["catalog"].append(times[0] - start)
                sick["etcd"].append(times[1] - start)
                engine.exec(victim, ["rm", "-f", SICK])
                both(bench, lambda s: s == every, "the sick replica back")
                # a replica is killed
                start = time.time()
                engine.api.kill(bench.main_id(replica))
                times = both(bench, lambda s, r=rest: s == r, "a killed replica's removal")
                kill["catalog"].append(times[0] - start)
                kill["etcd"].append(times[1] - start)
                # ... and started again by a deploy
                deploy = threading.Thread(target=bench.converge)
                deploy.start()
                times = both(bench, lambda s: s == every, "the new replica listed")
                deploy.join()
                probe = bench.first_healthy_probe(replica)
                new["catalog"].append(times[0] - probe)
                new["etcd"].append(times[1] - probe)
    finally:
        for task in engine.observe(run.environment).tasks:
            engine.remove_task(task)
        engine.remove_network(run.environment)
        engine.api.remove_image(web_tag, force=True)
        engine.api.remove_image(agent_tag, force=True)
    print("a replica killed (docker kill) -> gone from")
    show("the catalog", kill["catalog"])
    etcd_gone = show("etcd", kill["etcd"])
    print(f"a replica failing its check -> gone from (Docker: {INTERVAL * RETRIES:g} s to say so)")
    show("the catalog", sick["catalog"])
    show("etcd", sick["etcd"])
    print("a new replica's first passing check -> present in")
    show("the catalog", new["catalog"])
    show("etcd", new["etcd"])
    print("peer")
    print(
        f"  Consul's documented minimum deregistration of a failed instance: {CONSUL_MINIMUM:g} s"
    )
    print("ratios")
    print(f"  killed replica out of etcd / Consul's minimum   {etcd_gone / CONSUL_MINIMUM:6.3f}")
    print(f"  killed replica out of etcd / goal of {GOAL:g} s        {etcd_gone / GOAL:6.3f}")


if __name__ == "__main__":
    main()
