"""The catalog and the catalog agent against a real engine and a real etcd
(Debian's etcd-server): a replica is listed (and in etcd) once healthy, and leaves
both when it is killed or fails its health check, within the health settings or
the lease's TTL; a dead agent's entries expire with its lease.

Each test deploys (``apply``) an environment of its own: ``web`` (the test web
server, two replicas, port ``http`` 8000, health checked every second, three
tries) and the catalog agent syncing a private etcd every second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import docker
import pytest

from dockyard.deploy.apply import apply
from dockyard.discovery.agent import agent_build
from dockyard.discovery.catalog import Catalog, catalog_of
from dockyard.engines.docker import DockerEngine
from dockyard.plan import plan
from dockyard.plan.discovery import AGENT_SERVICE, agent_service
from dockyard.plan.model import DesiredState, HealthDef, PortDef, ServiceDef
from tests.fixtures.etcd import etcd_keys, etcd_server

from .support import BASE_IMAGE, Run, build_once, exec_in, service, wait_for, web

pytestmark = [pytest.mark.engine]

PORT = 8000
INTERVAL, RETRIES = 1.0, 3
"""The health check of the test service: every second, three tries."""
TTL = 3.0
"""The etcd lease of the agent's entries."""
AGENT_EVERY = 1.0
SICK = "/tmp/sick"
"""A file that makes the test service's health check fail while it exists."""
CHECK = HealthDef(
    test=[
        "CMD-SHELL",
        f'test ! -e {SICK} && python3 -c "import urllib.request; '
        f"urllib.request.urlopen('http://127.0.0.1:{PORT}/healthz', timeout=1)\"",
    ],
    interval=INTERVAL,
    timeout=2.0,  # python3 may take a while to start on a loaded machine
    retries=RETRIES,
    start_period=0.0,
)
START = 60.0
"""Seconds a deploy and the first sync may take on a loaded machine."""
GONE = INTERVAL * RETRIES + AGENT_EVERY + TTL
"""Seconds by which a replica that failed is out of the catalog and of etcd: its
health settings, one pass of the agent; a dead agent's entries: the TTL."""
SLACK = 5.0
"""What a loaded machine adds to every wait."""


@pytest.fixture(scope="module")
def etcd() -> Iterator[str]:
    with etcd_server() as url:
        yield url


@pytest.fixture(scope="session")
def agent_image(engine: DockerEngine, suite_run: str) -> str:
    tag = f"dockyard-test/catalog-agent:{suite_run}"
    return build_once(engine, agent_build(BASE_IMAGE), tag, suite_run)


@dataclass
class Env:
    engine: DockerEngine
    client: docker.DockerClient
    desired: DesiredState
    etcd: str

    @property
    def name(self) -> str:
        return self.desired.environment

    @property
    def prefix(self) -> str:
        return f"/dockyard/{self.name}/"

    def converge(self, desired: DesiredState) -> None:
        self.desired = desired
        actual = self.engine.observe(self.name)
        apply(self.engine, desired, actual, plan(desired, actual), "r1")

    def catalog(self) -> Catalog:
        actual = self.engine.observe(self.name)
        return catalog_of(actual, self.engine.addresses(self.name), [("web", "service")])

    def listed(self) -> set[int]:
        """The replicas of web the catalog lists."""
        return {e.replica for e in self.catalog().service("web").endpoints}

    def in_etcd(self) -> set[int]:
        return {int(str(v["replica"])) for v in etcd_keys(self.etcd, self.prefix).values()}

    def main_id(self, replica: int) -> str:
        (task,) = [
            t for t in self.engine.observe(self.name).tasks_of("web") if t.replica == replica
        ]
        assert task.main is not None
        return task.main.id


def web_service(image: str, replicas: int) -> ServiceDef:
    container = web(image, health=CHECK, ports=[PortDef(name="http", port=PORT)])
    return service("web", container, replicas=replicas)


@pytest.fixture
def make_env(
    engine: DockerEngine,
    client: docker.DockerClient,
    test_run: Run,
    web_image: str,
    agent_image: str,
    etcd: str,
) -> Callable[..., Env]:
    def make(replicas: int = 2) -> Env:
        registrar = {"kind": "etcd", "endpoints": [etcd], "prefix": "/dockyard", "ttl": TTL}
        routes = {"web": {PORT: [f"web:{PORT}"]}}
        agent = agent_service(test_run.environment, agent_image, [registrar], routes, AGENT_EVERY)
        desired = test_run.desired(web_service(web_image, replicas), agent)
        env = Env(engine, client, desired, etcd)
        env.converge(desired)
        want = set(range(1, replicas + 1))
        wait_for(lambda: env.listed() == want, timeout=START, what=f"replicas {want} listed")
        wait_for(lambda: env.in_etcd() == want, timeout=START, what=f"replicas {want} in etcd")
        return env

    return make


def test_the_catalog_lists_healthy_replicas_at_their_address(
    make_env: Callable[..., Env],
) -> None:
    env = make_env()
    web_entry = env.catalog().service("web")
    assert {(e.replica, e.port_name, e.port) for e in web_entry.endpoints} == {
        (1, "http", PORT),
        (2, "http", PORT),
    }
    # the address is the replica's on the environment network: the agent's entry says the same
    held = etcd_keys(env.etcd, env.prefix)
    for e in web_entry.endpoints:
        info = env.client.api.inspect_container(env.main_id(e.replica))
        address = info["NetworkSettings"]["Networks"][env.desired.network]["IPAddress"]
        assert e.address == address
        value = held[f"{env.prefix}web/{e.replica}/http"]
        assert (value["address"], value["port"], value["routes"]) == (
            address,
            PORT,
            [f"web:{PORT}"],
        )
    assert [r.url for r in web_entry.routes] == [f"web:{PORT}"]


def test_a_killed_replica_leaves_the_catalog_and_etcd(make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.client.api.kill(env.main_id(1))
    wait_for(lambda: env.listed() == {2}, timeout=GONE + SLACK, what="replica 1 out of the catalog")
    wait_for(lambda: env.in_etcd() == {2}, timeout=GONE + SLACK, what="replica 1 out of etcd")


def test_a_replica_that_fails_its_check_leaves_and_comes_back(make_env: Callable[..., Env]) -> None:
    env = make_env()
    sick = env.main_id(2)
    exec_in(env.client, sick, "touch", SICK)
    wait_for(lambda: env.listed() == {1}, timeout=GONE + SLACK, what="replica 2 out of the catalog")
    wait_for(lambda: env.in_etcd() == {1}, timeout=GONE + SLACK, what="replica 2 out of etcd")
    exec_in(env.client, sick, "rm", SICK)
    wait_for(lambda: env.listed() == {1, 2}, timeout=GONE + SLACK, what="replica 2 back")
    wait_for(lambda: env.in_etcd() == {1, 2}, timeout=GONE + SLACK, what="replica 2 in etcd")


def test_a_new_healthy_replica_appears(make_env: Callable[..., Env], web_image: str) -> None:
    env = make_env(replicas=1)
    services = [web_service(web_image, 2) if s.name == "web" else s for s in env.desired.services]
    env.converge(env.desired.model_copy(update={"services": services}))
    wait_for(lambda: env.listed() == {1, 2}, timeout=START, what="replica 2 listed")
    wait_for(lambda: env.in_etcd() == {1, 2}, timeout=START, what="replica 2 in etcd")


def test_a_dead_agents_entries_expire_with_its_lease(make_env: Callable[..., Env]) -> None:
    env = make_env()
    (agent,) = env.engine.observe(env.name).tasks_of(AGENT_SERVICE)
    assert agent.main is not None
    env.client.api.kill(agent.main.id)
    wait_for(lambda: env.in_etcd() == set(), timeout=TTL + SLACK, what="the entries expired")
    assert env.listed() == {1, 2}  # the replicas still run: only the registrar lost them
