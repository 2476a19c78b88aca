"""The catalog from given actual state: which replicas are listed, at which address
and port, by which routes; and the agent's reading of Docker's container list,
which must list the same endpoints."""

from __future__ import annotations

import json

from dockyard.discovery.catalog import catalog_of
from dockyard.discovery.registrars.containers import OWN, entries_of, healthy
from dockyard.plan.discovery import AGENT_SERVICE, service_routes
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    ContainerDef,
    HealthDef,
    IngressDef,
    PortDef,
    ProxyDef,
    PublicRoute,
    ServiceDef,
    TaskDef,
)
from dockyard.plan.supervisor import SUPERVISOR_SERVICE
from tests.unit.plan.states import running

CHECK = HealthDef(test=["CMD", "true"], interval=1, timeout=1, retries=3, start_period=0)
API = ServiceDef(
    name="api",
    task=TaskDef(
        containers=[
            ContainerDef(
                name="api",
                image="sha256:api",
                ports=[PortDef(name="http", port=8000)],
                health=CHECK,
            ),
            ContainerDef(
                name="metrics",
                image="sha256:m",
                sidecar=True,
                ports=[PortDef(name="metrics", port=9100)],
            ),
        ],
        aliases=[],
    ),
)
DB = ServiceDef(
    name="db",
    kind="accessory",
    task=TaskDef(
        containers=[
            ContainerDef(name="db", image="sha256:db", ports=[PortDef(name="pg", port=5432)])
        ]
    ),
)
INGRESS = IngressDef(
    proxied=[ProxyDef(service="api", ports=[8000])],
    routes=[PublicRoute(service="api", port=8000, host="api.local", path="/v1")],
)
PUBLIC = "http://127.0.0.1:8080"


def state(*tasks: ActualTask) -> ActualState:
    return ActualState(environment="t", network="dockyard-t", tasks=list(tasks))


def addresses(*tasks: ActualTask) -> dict[str, str]:
    return {t.main.id: f"10.0.0.{t.replica + 1}" for t in tasks if t.main is not None}


def test_healthy_replicas_are_listed_at_their_address_with_every_port() -> None:
    one, two = running(API, 1, health="healthy"), running(API, 2, health="healthy")
    found = catalog_of(state(one, two), addresses(one, two), [("api", "service")])
    api = found.service("api")
    assert [(e.replica, e.address, e.port_name, e.port) for e in api.endpoints] == [
        (1, "10.0.0.2", "http", 8000),
        (1, "10.0.0.2", "metrics", 9100),
        (2, "10.0.0.3", "http", 8000),
        (2, "10.0.0.3", "metrics", 9100),
    ]
    assert found.network == "dockyard-t"


def test_a_replica_that_fails_its_check_starts_or_stopped_is_not_listed() -> None:
    tasks = [
        running(API, 1, health="healthy"),
        running(API, 2, health="unhealthy"),
        running(API, 3, health="starting"),
        running(API, 4, status="exited"),
        running(API, 5, health="healthy", missing=["metrics"]),
    ]
    found = catalog_of(state(*tasks), addresses(*tasks))
    # a task without its sidecar is not whole: the planner replaces it
    assert {e.replica for e in found.service("api").endpoints} == {1}


def test_a_sidecar_that_stopped_takes_its_replica_out() -> None:
    task = running(API, 1, health="healthy")
    sidecar = task.containers[1].model_copy(update={"status": "exited"})
    task = task.model_copy(update={"containers": [task.containers[0], sidecar]})
    assert catalog_of(state(task), addresses(task)).service("api").endpoints == ()


def test_a_service_with_no_healthy_replica_is_listed_empty() -> None:
    found = catalog_of(state(), {}, [("api", "service"), ("db", "accessory")])
    assert [(s.name, s.kind, s.endpoints) for s in found.services] == [
        ("api", "service", ()),
        ("db", "accessory", ()),
    ]


def test_dockyards_own_accessories_are_left_out() -> None:
    own = [DB.model_copy(update={"name": name}) for name in sorted(OWN)]
    tasks = [running(s, 1) for s in own]
    assert catalog_of(state(*tasks), addresses(*tasks)).services == ()
    assert {INGRESS_SERVICE, HOLDER_SERVICE, SUPERVISOR_SERVICE, AGENT_SERVICE} == OWN


def test_routes_public_through_the_ingress_and_by_dns() -> None:
    api, db = running(API, 1, health="healthy"), running(DB, 1)
    found = catalog_of(state(api, db), addresses(api, db), [], INGRESS, PUBLIC)
    assert [(r.kind, r.url, r.via) for r in found.service("api").routes] == [
        ("public", "http://127.0.0.1:8080/v1 (Host: api.local)", "ingress"),
        ("network", "http://api:8000", "ingress"),
        # a port the ingress does not proxy is reached at the replicas, which have no name
    ]
    assert [(r.url, r.via) for r in found.service("db").routes] == [("db:5432", "dns")]
    assert [r.url for r in found.service("api").routes_to(9100)] == []


def test_the_routes_of_a_service_without_ingress_are_its_names() -> None:
    routes = service_routes("cache", [6379], None, None, ["cache", "redis"])
    assert [r.url for r in routes] == ["cache:6379", "redis:6379"]


def test_entries_carry_the_routes_of_their_port() -> None:
    api = running(API, 1, health="healthy")
    found = catalog_of(state(api), addresses(api), [], INGRESS, PUBLIC)
    by_port = {e.port_name: e for e in found.entries()}
    assert by_port["http"].routes == (
        "http://127.0.0.1:8080/v1 (Host: api.local)",
        "http://api:8000",
    )
    assert by_port["metrics"].routes == ()
    assert by_port["http"].key == "api/1/http"
    assert json.loads(by_port["http"].encoded())["address"] == "10.0.0.2"


# --------------------------------------------------- the agent's container list


Row = dict[str, object]


def summary(task: ActualTask, status: str, *, network: str = "dockyard-t") -> list[Row]:
    """Docker's container list entries of ``task``, every container in ``status``."""
    assert task.definition is not None
    rows: list[Row] = []
    for c in task.containers:
        labels = {
            "dockyard.env": "t",
            "dockyard.service": task.service,
            "dockyard.role": c.role,
            "dockyard.container": c.container,
            "dockyard.task": task.task,
            "dockyard.replica": str(task.replica),
            "dockyard.definition": task.definition.canonical(),
        }
        ip = f"10.0.0.{task.replica + 1}"
        rows.append(
            {
                "Id": c.id,
                "Labels": labels,
                "State": "running" if status.startswith("Up") else "exited",
                "Status": status if c.role == "main" else "Up 3 seconds",
                "NetworkSettings": {"Networks": {network: {"IPAddress": ip}}},
            }
        )
    return rows


def test_the_agent_reads_the_same_endpoints_from_the_container_list() -> None:
    good, sick = running(API, 1, health="healthy"), running(API, 2, health="unhealthy")
    db = running(DB, 1)
    rows = [
        *summary(good, "Up 5 seconds (healthy)"),
        *summary(sick, "Up 5 seconds (unhealthy)"),
        *summary(db, "Up 5 seconds"),
    ]
    routes = {"api": {"8000": ["http://api:8000"]}}
    entries = entries_of(rows, "t", routes)
    expected = catalog_of(state(good, sick, db), addresses(good, sick, db)).entries()
    assert [(e.key, e.address, e.port) for e in entries] == [
        (e.key, e.address, e.port) for e in sorted(expected, key=lambda e: e.key)
    ]
    assert next(e for e in entries if e.port_name == "http").routes == ("http://api:8000",)


def test_the_agent_skips_what_it_cannot_place() -> None:
    task = running(API, 1, health="healthy")
    assert entries_of(summary(task, "Up 1 second (health: starting)"), "t") == []
    assert entries_of(summary(task, "Up 1 second (healthy)", network="bridge"), "t") == []
    one_off = [
        dict(r, Labels={**r["Labels"], "dockyard.role": "task"}) for r in summary(task, "Up")
    ]  # type: ignore[dict-item]
    assert entries_of(one_off, "t") == []


def test_health_from_the_status_text() -> None:
    assert healthy("Up 3 seconds (healthy)") and healthy("Up 2 minutes")
    assert not healthy("Up 3 seconds (unhealthy)")
    assert not healthy("Up Less than a second (health: starting)")
    assert not healthy("Exited (0) 2 seconds ago")


def test_a_service_nothing_runs_of_has_the_routes_its_spec_declares() -> None:
    found = catalog_of(
        state(), {}, [("api", "service"), ("db", "accessory")], INGRESS, PUBLIC, {"db": [5432]}
    )
    assert [r.url for r in found.service("db").routes] == ["db:5432"]
    assert found.service("db").ports == (5432,) and found.service("db").endpoints == ()
    assert [r.url for r in found.service("api").routes] == [
        "http://127.0.0.1:8080/v1 (Host: api.local)"
    ]
