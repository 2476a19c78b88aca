"""``dockyard catalog`` over the example, with an etcd registrar: what the CLI lists
and what the catalog agent keeps in a real etcd (Debian's etcd-server) as a replica
is killed and the supervisor brings it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import pytest

from tests.acceptance.conftest import Example, make_example, remove_by_label, wait_for
from tests.fixtures.etcd import etcd_keys, etcd_server

pytestmark = pytest.mark.acceptance

TTL = 3
WAIT = 180.0
"""Seconds a deploy's agent, or a killed replica brought back, may take on a busy machine."""
GONE = 30.0
"""Seconds by which a killed replica is out of the catalog and etcd (the agent looks
every second; the rest is a loaded machine)."""


@pytest.fixture(scope="module")
def etcd() -> Iterator[str]:
    with etcd_server() as url:
        yield url


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, etcd: str) -> Iterator[Example]:
    example = make_example(tmp_path_factory.mktemp("catalog"))
    registrar = {"kind": "etcd", "endpoints": [etcd], "prefix": "/dockyard", "ttl": f"{TTL}s"}
    example.edit_env(discovery={"registrars": [registrar]})
    try:
        example.dockyard("deploy", example.env)
        yield example
    finally:
        example.dockyard("down", example.env, "--volumes", check=False)
        remove_by_label(example.run_id)


def listed(example: Example, service: str) -> set[tuple[int, str]]:
    data: dict[str, Any] = example.dockyard("catalog", example.env, "--json").json()
    entry = next(s for s in data["services"] if s["name"] == service)
    return {(e["replica"], e["port_name"]) for e in entry["endpoints"]}


def in_etcd(etcd: str, example: Example, service: str) -> set[tuple[int, str]]:
    held = etcd_keys(etcd, f"/dockyard/{example.env}/{service}/")
    return {(int(str(v["replica"])), str(v["port_name"])) for v in held.values()}


API = {(1, "http"), (1, "metrics"), (2, "http"), (2, "metrics")}


def test_the_catalog_lists_every_service_and_its_routes(deployed: Example, etcd: str) -> None:
    wait_for(lambda: listed(deployed, "api") == API, timeout=WAIT, what="api's replicas")
    data = deployed.dockyard("catalog", deployed.env, "--json").json()
    services = {s["name"]: s for s in data["services"]}
    assert set(services) == {"db", "api", "worker", "web"}  # not Dockyard's own
    assert services["worker"]["endpoints"] == services["worker"]["ports"] == []
    (db,) = services["db"]["endpoints"]
    assert (db["port_name"], db["port"]) == ("postgres", 5432) and db["address"]
    web_routes = [r["url"] for r in services["web"]["routes"]]
    assert web_routes == [deployed.url, "http://web:8000"]
    assert {r["url"] for r in services["db"]["routes"]} == {"db:5432"}
    table = deployed.dockyard("catalog", deployed.env).out
    assert "http://api:8000" in table and "none healthy" not in table
    wait_for(lambda: in_etcd(etcd, deployed, "api") == API, timeout=WAIT, what="api in etcd")


def test_a_killed_replica_goes_and_comes_back(deployed: Example, etcd: str) -> None:
    wait_for(lambda: in_etcd(etcd, deployed, "api") == API, timeout=WAIT, what="api in etcd")
    client = docker.from_env()
    try:
        labels = [f"dockyard.env={deployed.env}", "dockyard.service=api", "dockyard.role=main"]
        (one,) = [
            c
            for c in client.containers.list(filters={"label": labels})
            if c.labels["dockyard.replica"] == "1"
        ]
        one.kill()
    finally:
        client.close()
    rest = {(2, "http"), (2, "metrics")}
    # the supervisor starts it again: out of both, then back once healthy
    wait_for(lambda: in_etcd(etcd, deployed, "api") == rest, timeout=GONE, what="out of etcd")
    wait_for(lambda: listed(deployed, "api") == API, timeout=WAIT, what="back in the catalog")
    wait_for(lambda: in_etcd(etcd, deployed, "api") == API, timeout=WAIT, what="back in etcd")


def test_status_counts_the_agent_as_wanted(deployed: Example) -> None:
    def agent() -> dict[str, Any]:
        data = deployed.dockyard("status", deployed.env, "--json").json()
        found: dict[str, Any] = next(s for s in data["services"] if s["name"] == "catalog-agent")
        return found

    assert (agent()["kind"], agent()["desired"]) == ("accessory", 1)
    wait_for(lambda: agent()["ok"], timeout=WAIT, what="the agent healthy in status")
    plan = deployed.dockyard("plan", deployed.env).out
    assert "catalog-agent" not in plan  # deployed and unchanged: nothing to do
