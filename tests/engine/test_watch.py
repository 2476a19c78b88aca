"""The watch window judged by the ingress's figures, against a real Caddy, under load.

Two replicas of the test web server run behind the ingress, routed publicly; a
load thread sends requests to the holder's published port on 127.0.0.1 (half on
one keep-alive connection, half on a new connection each). A new version that
answers every second request with a 500 — while its health check passes — is
reverted by ``deploy.watch.max_error_rate``; the only failed requests are those
it answered. A healthy new version under the same load passes the watch.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest

from dockyard.deploy.apply import apply
from dockyard.deploy.observed import observe
from dockyard.deploy.planning import release_plan
from dockyard.deploy.watch import WatchFailed
from dockyard.discovery import (
    INGRESS_SERVICE,
    PublicRoute,
    RatesReader,
    holder_service,
    ingress_service,
    service_rates,
)
from dockyard.engines.docker import DockerEngine
from dockyard.events import Event
from dockyard.plan.model import DesiredState, IngressDef, ProxyDef
from tests.fixtures.load import Load, served_since

from .support import Run, free_port, service, web

pytestmark = pytest.mark.engine

PORT = 8000
WATCH = {"seconds": 20, "max_error_rate": 0.05, "min_requests": 20}
BEFORE = 200
"""Requests the old version serves before the new one starts, and after a revert."""


@dataclasses.dataclass
class Shop:
    engine: DockerEngine
    run: Run
    web_image: str
    ingress_image: str
    public_port: int

    def desired(self, message: str, **env: str) -> DesiredState:
        holder = holder_service(
            self.run.environment, self.ingress_image, self.public_port, "127.0.0.1", {"web": [PORT]}
        )
        caddy = ingress_service(self.run.environment, self.ingress_image, holder)
        replicas = service(
            "web",
            web(self.web_image, env={"MESSAGE": message, **env}),
            aliases=[],
            replicas=2,
            depends_on=[INGRESS_SERVICE],
            drain=5.0,
            health_timeout=30.0,
            watch=WATCH,
        )
        ingress = IngressDef(
            service=INGRESS_SERVICE,
            proxied=[
                ProxyDef(
                    service="web",
                    ports=[PORT],
                    health_path="/healthz",
                    health_port=PORT,
                    health_interval=0.5,
                    health_timeout=2.0,
                )
            ],
            routes=[PublicRoute(service="web", port=PORT)],
        )
        desired = self.run.desired(holder, caddy, replicas)
        return desired.model_copy(update={"ingress": ingress})

    def converge(self, desired: DesiredState, release: str, events: list[Event]) -> None:
        observed = observe(self.engine, self.run.environment)
        apply(
            self.engine,
            desired,
            observed.actual,
            release_plan(desired, observed),
            release,
            events.append,
        )

    def versions(self) -> list[str]:
        tasks = self.engine.observe(self.run.environment).tasks_of("web")
        return sorted(t.spec_hash for t in tasks if t.healthy)


@pytest.fixture
def shop(engine: DockerEngine, test_run: Run, web_image: str, ingress_image: str) -> Iterator[Shop]:
    shop = Shop(engine, test_run, web_image, ingress_image, free_port())
    shop.converge(shop.desired("v1"), "r1", [])
    yield shop


def test_a_version_that_fails_half_its_requests_is_reverted_and_the_old_one_serves(
    shop: Shop,
) -> None:
    before = shop.versions()
    events: list[Event] = []
    load = Load(shop.public_port, max_seconds=300)
    with load:
        served_since(load, 0, BEFORE)
        with pytest.raises(WatchFailed) as failure:
            shop.converge(shop.desired("v2", FAIL_EVERY="2"), "r2", events)
        mark = load.served
        served_since(load, mark, BEFORE)
    after = load.bodies[mark:]

    message = failure.value.message
    print(f"\n{message}")
    print(f"served {load.served}, failed {len(load.failures)}: {load.replicas}")
    assert re.match(
        r"web (replica \d \(new\)|new replicas \(\d\)): \d+ of \d+ requests failed \(\d+(\.\d+)?%, "
        r"5xx \d+, connection errors 0\); the replicas it replaces: 0 of \d+ \(0%\); "
        r"deploy.watch.max_error_rate is 5%$",
        message,
    )
    # The only failed requests are those the bad version answered with its 500.
    bad = [str(f) for f in load.failures if "HTTP 500: v2 failed" in str(f)]
    assert bad and [str(f) for f in load.failures] == bad
    print(f"requests the bad version failed before it was out of rotation: {len(bad)}")
    assert set(after) == {"v1"}  # the old version serves again, and only it
    assert shop.versions() == before
    assert any(e.message.startswith("rolled back") for e in events)
    # The ingress counted exactly the 500s the load got, and every request.
    rates = service_rates(shop.engine, shop.run.environment, seconds=600)["web"]
    assert rates.figures.server_errors == len(bad)
    assert rates.requests == load.served + len(load.failures)


def test_a_healthy_version_under_load_passes_the_watch(shop: Shop) -> None:
    events: list[Event] = []
    kept = RatesReader(shop.engine, shop.run.environment)  # as status --watch keeps it
    kept.service_rates(seconds=600)
    load = Load(shop.public_port, max_seconds=300)
    with load:
        served_since(load, 0, BEFORE)
        kept.service_rates(seconds=600)  # a look in the middle reads up to here
        shop.converge(shop.desired("v2"), "r2", events)
        mark = load.served
        served_since(load, mark, BEFORE)

    assert load.failures == []
    assert set(load.bodies[mark:]) == {"v2"}
    assert shop.versions() == sorted([shop.desired("v2").service("web").task.spec_hash()] * 2)
    rates = service_rates(shop.engine, shop.run.environment, seconds=600)["web"]
    assert (rates.requests, rates.error_rate) == (load.served, 0.0)
    # A reader kept between looks, reading only what is new, counts what a new one does.
    again = kept.service_rates(seconds=600)["web"]
    assert (again.requests, again.figures.classes) == (rates.requests, rates.figures.classes)
    (summary,) = [e.message for e in events if e.message.startswith("new replicas:")]
    print(f"\n{summary}")
    assert re.match(r"new replicas: \d+ requests, 0 failed \(0%\), p95 \d+ms; ", summary)
