"""How fast a rollout reverts a new version that answers with errors, and what the
ingress's figures cost in latency.

One environment on the local engine: two replicas of the engine tests' web
server behind the ingress (holder + Caddy), deployed with Dockyard's apply,
``deploy.watch: {seconds: 15, max_error_rate: 5%, min_requests: 20}``. A load
thread (alternating a keep-alive connection and a new connection per request)
sends GET / to the holder's published port on 127.0.0.1.

revert   a new version that answers every second request with a 500 (its health
         check passes) is deployed under load, --runs times. Figures: seconds
         from the first 500 the load got to the bad replica's leaving the
         rotation (the decision: it leaves as soon as it is judged, while an
         old replica serves) and to the revert's start (once the rollout's own
         thread sees it), and the requests the bad version answered in all
         (200s and 500s). The peer, docker-compose
         or Swarm (`update_config.failure_action: rollback`), reverts on a
         failed health check or a task that exits, never on the answers a
         healthy container gives: its figure is "never", and every request the
         bad version gets from then on fails half the time.
latency  per-request time through the ingress, keep-alive, with the traffic
         log on (as Dockyard runs it) and off (the same config without it),
         alternating --rounds rounds of --requests requests each; the ratio of
         the medians and of the 95th percentiles, on / off.

Everything the bench creates carries its label and is removed at the end, also
on failure. Traffic goes only to 127.0.0.1.

Usage: python bench/watch.py [--runs N] [--rounds N] [--requests N]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    build_ingress,
    build_web,
    free_port,
    ingress_desired,
    labelled_run,
    load_average,
    web_health,
    web_service,
)

from dockyard.deploy.apply import apply  # noqa: E402
from dockyard.deploy.routing import routing_table  # noqa: E402
from dockyard.deploy.watch import WatchFailed  # noqa: E402
from dockyard.discovery import INGRESS_SERVICE, IngressClient, caddy_config  # noqa: E402
from dockyard.engines.docker import DockerEngine  # noqa: E402
from dockyard.events import Event  # noqa: E402
from dockyard.plan.diff import plan  # noqa: E402
from dockyard.plan.model import DesiredState, WatchDef  # noqa: E402
from tests.fixtures.load import Load, served_since  # noqa: E402

BENCH_LABEL = "dockyard-bench.watch"
BEFORE = 300
"""Requests the old version serves before each bad deploy."""
WATCH = WatchDef(seconds=15, max_error_rate=0.05, min_requests=20)
HEALTH = web_health()


@dataclasses.dataclass
class Bench:
    engine: DockerEngine
    run: str
    web_image: str
    ingress_image: str
    public_port: int

    @property
    def environment(self) -> str:
        return f"bench-{self.run}"

    def desired(self, **env: str) -> DesiredState:
        return ingress_desired(
            self.environment,
            web_service(self.web_image, HEALTH, env=env, watch=WATCH),
            holder_image=self.ingress_image,
            caddy_image=self.ingress_image,
            public_port=self.public_port,
            labels={BENCH_LABEL: self.run},
        )

    def deploy(self, desired: DesiredState, events: list[tuple[float, Event]]) -> None:
        actual = self.engine.observe(self.environment)

        def report(event: Event) -> None:
            events.append((time.monotonic(), event))

        apply(self.engine, desired, actual, plan(desired, actual), f"r{time.time_ns()}", report)

    def ingress(self) -> IngressClient:
        actual = self.engine.observe(self.environment)
        (caddy,) = [t for t in actual.tasks_of(INGRESS_SERVICE) if t.running]
        assert caddy.main is not None
        return IngressClient(self.engine, caddy.main.id)


@dataclasses.dataclass
class Revert:
    ejected_after: float  # seconds from the first 500 to the bad replica out of rotation
    decided_after: float  # seconds from the first 500 to the revert's start
    bad_answers: int  # requests the bad version answered (200 and 500)
    bad_500s: int
    other_failures: int
    message: str


def revert_once(bench: Bench, n: int) -> Revert:
    bad = bench.desired(MESSAGE=f"bad{n}", FAIL_EVERY="2")
    events: list[tuple[float, Event]] = []
    load = Load(bench.public_port, max_seconds=600)
    with load:
        served_since(load, 0, BEFORE)
        try:
            bench.deploy(bad, events)
        except WatchFailed as e:
            message = e.message
        else:
            raise SystemExit("the bad version passed its watch")
        served_since(load, load.served, BEFORE)
    decided = next(at for at, e in events if e.message == "rolling web back")
    marker = bad.service("web").task.spec_hash()[:7]
    ejected = next(
        at
        for at, e in events
        if e.kind == "route" and "out of rotation" in e.message and marker in e.message
    )
    failed = [f for f in load.failures if f"bad{n} failed" in f.what]
    first = min(f.at for f in failed)
    return Revert(
        ejected_after=ejected - first,
        decided_after=decided - first,
        bad_answers=load.replicas.get(f"bad{n}", 0) + len(failed),
        bad_500s=len(failed),
        other_failures=len(load.failures) - len(failed),
        message=message,
    )


def latencies(port: int, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    found = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            found.append(time.perf_counter() - start)
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status} while measuring latency")
    finally:
        connection.close()
    return found


def latency(bench: Bench, rounds: int, requests: int) -> dict[bool, list[float]]:
    client = bench.ingress()
    ingress = bench.desired(MESSAGE="v1").ingress
    assert ingress is not None
    table = routing_table(ingress, bench.engine.observe(bench.environment))
    found: dict[bool, list[float]] = {True: [], False: []}
    latencies(bench.public_port, 200)  # warm up
    try:
        for _ in range(rounds):
            for traffic in (True, False):
                client.load(caddy_config(table, traffic=traffic))
                found[traffic] += latencies(bench.public_port, requests)
    finally:
        client.load(caddy_config(table, traffic=True))
    return found


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(0.95 * len(values)) - 1)]


@contextlib.contextmanager
def bench_environment() -> Iterator[Bench]:
    with labelled_run(BENCH_LABEL) as (engine, run):
        labels = {BENCH_LABEL: run}
        web = build_web(engine, run, labels)
        ingress = build_ingress(engine, f"dockyard-bench/ingress:{run}", labels)
        bench = Bench(engine, run, web, ingress, free_port())
        bench.deploy(bench.desired(MESSAGE="v1"), [])
        yield bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="bad deploys to revert")
    parser.add_argument("--rounds", type=int, default=4, help="latency rounds per mode")
    parser.add_argument("--requests", type=int, default=500, help="requests per round")
    args = parser.parse_args()
    print(f"watch bench ({load_average()})", flush=True)
    with bench_environment() as bench:
        print("revert of a version answering 50% 500s, under load (deploy.watch 5%, 20 requests):")
        reverts = []
        for n in range(1, args.runs + 1):
            r = revert_once(bench, n)
            reverts.append(r)
            if n == 1:
                print(f"  message: {r.message}")
            print(
                f"  run {n}: out of rotation {r.ejected_after:.2f}s after the first 500, revert "
                f"begun after {r.decided_after:.2f}s; the bad version answered "
                f"{r.bad_answers} requests ({r.bad_500s} of them 500s); other failed "
                f"requests: {r.other_failures}",
                flush=True,
            )
        ejected = statistics.median(r.ejected_after for r in reverts)
        answered = statistics.median(r.bad_answers for r in reverts)
        print(
            f"  dockyard: median {ejected:.2f}s from the first 500 to out of rotation, "
            f"{answered:g} requests answered by the bad version"
        )
        print("  peer (docker-compose, Swarm rollback): never; the bad version keeps serving")
        found = latency(bench, args.rounds, args.requests)
    on, off = found[True], found[False]
    print(f"ingress latency, {len(on)} requests per mode, keep-alive ({load_average()}):")
    for name, values in (("traffic log on", on), ("traffic log off", off)):
        print(
            f"  {name}: median {statistics.median(values) * 1000:.2f}ms, "
            f"p95 {p95(values) * 1000:.2f}ms"
        )
    print(
        f"  ratio on/off: median {statistics.median(on) / statistics.median(off):.2f}, "
        f"p95 {p95(on) / p95(off):.2f}"
    )


if __name__ == "__main__":
    main()
