"""The catalog of an environment: every service's healthy endpoints and the routes
that reach them.

An endpoint is one port of one replica that is healthy now (every container of
it runs, the main container's health check passes or it has none), at the main container's
address on the environment's network. A replica appears once healthy and is gone
as soon as it fails its check or stops: the catalog is read from the engine each
time (``observe``, and the containers' addresses), never cached.

``catalog_of`` is pure (actual state in, catalog out); ``catalog`` asks the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dockyard.discovery.registrars.base import Entry
from dockyard.discovery.registrars.containers import OWN
from dockyard.engines.addresses import Addresses
from dockyard.engines.environment import Environments
from dockyard.plan.desired import ingress_of
from dockyard.plan.discovery import Route, declared_ports, public_url, service_routes
from dockyard.plan.model import ActualState, ActualTask, IngressDef, PortDef, network_name
from dockyard.spec.loaded import LoadedEnvironment


@dataclass(frozen=True)
class Endpoint:
    """One port of one healthy replica."""

    service: str
    replica: int
    task: str
    port_name: str
    port: int
    address: str | None  # on the environment's network; None when the engine has none
    health: str | None  # "healthy", or None when the service has no health check


@dataclass(frozen=True)
class ServiceCatalog:
    name: str
    kind: str  # service | accessory
    endpoints: tuple[Endpoint, ...] = ()
    routes: tuple[Route, ...] = ()
    ports: tuple[int, ...] = ()  # what its replicas listen on (none: a worker)

    def routes_to(self, port: int) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.port == port)


@dataclass(frozen=True)
class Catalog:
    environment: str
    network: str
    services: tuple[ServiceCatalog, ...] = field(default_factory=tuple)

    def service(self, name: str) -> ServiceCatalog:
        return next(s for s in self.services if s.name == name)

    def entries(self) -> list[Entry]:
        """The endpoints that have an address, as registrars publish them."""
        return [
            Entry(
                environment=self.environment,
                service=s.name,
                replica=e.replica,
                port_name=e.port_name,
                port=e.port,
                address=e.address,
                task=e.task,
                routes=tuple(r.url for r in s.routes_to(e.port)),
            )
            for s in self.services
            for e in s.endpoints
            if e.address is not None
        ]


def serving(task: ActualTask) -> bool:
    """Whether a replica is in the catalog: every container of its definition there
    and live, the main one healthy."""
    return (
        task.definition is not None
        and task.complete(task.definition)
        and task.healthy
        and all(c.live for c in task.containers)
    )


def catalog_of(
    actual: ActualState,
    addresses: Mapping[str, str],
    services: Iterable[tuple[str, str]] = (),
    ingress: IngressDef | None = None,
    public: str | None = None,
    ports: Mapping[str, Sequence[int]] | None = None,
) -> Catalog:
    """The catalog of what runs (``actual``): ``addresses`` maps container IDs to their
    address on the network; ``services`` (name, kind) are listed even when none of
    their replicas is healthy; ``ingress`` and its ``public`` address give the routes,
    to the ports the replicas' definitions declare and to the ``ports`` the spec
    declares (service -> numbers), which nothing running may tell."""
    kinds = dict(services)
    for t in actual.tasks:
        kinds.setdefault(t.service, t.kind)
    listed = []
    for name, kind in kinds.items():
        if name in OWN:
            continue
        tasks = actual.tasks_of(name)
        endpoints = [e for t in tasks if serving(t) for e in _endpoints(t, addresses)]
        running = {p.port for t in tasks if t.definition for p in _ports(t)}
        numbers = sorted(running | set((ports or {}).get(name, ())))
        aliases = next((t.definition.aliases for t in tasks if t.definition), None)
        routes = service_routes(name, numbers, ingress, public, aliases)
        listed.append(ServiceCatalog(name, kind, tuple(endpoints), tuple(routes), tuple(numbers)))
    return Catalog(actual.environment, network_name(actual.environment), tuple(listed))


def _ports(task: ActualTask) -> list[PortDef]:
    assert task.definition is not None
    return [p for c in task.definition.containers for p in c.ports]


def _endpoints(task: ActualTask, addresses: Mapping[str, str]) -> list[Endpoint]:
    if task.definition is None or task.main is None:
        return []
    main = task.main
    return [
        Endpoint(
            service=task.service,
            replica=task.replica,
            task=task.task,
            port_name=p.name,
            port=p.port,
            address=addresses.get(main.id),
            health=main.health,
        )
        for p in _ports(task)
    ]


def catalog(engine: Environments, env: LoadedEnvironment) -> Catalog:
    """The catalog of ``env`` as the engine reports it now."""
    actual = engine.observe(env.name)
    addresses = engine.addresses(env.name) if isinstance(engine, Addresses) else {}
    declared = [(name, "accessory") for name in env.spec.accessories]
    declared += [(svc.name, "service") for svc in env.services]
    ingress = ingress_of(env)
    public = public_url(env, ingress)
    return catalog_of(actual, addresses, declared, ingress, public, declared_ports(env))
