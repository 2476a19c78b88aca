"""What the catalog of an environment is reached by, and the definition of its
catalog agent. Pure; the catalog itself is in ``dockyard.discovery.catalog``, the
agent's image and program in ``dockyard.discovery.agent``.

The **catalog agent** (accessory ``catalog-agent``) runs only in an environment
whose file lists ``discovery.registrars`` or sets ``metrics.prometheus``: one
container in the engine host's network namespace (so ``http://127.0.0.1:2379`` is
the host's etcd) that reads the environment's containers through the engine's
socket every ``interval`` and keeps each registrar in sync with the healthy
endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Literal

from dockyard.plan.metrics import metrics_registrar, targets_mount
from dockyard.plan.model import ContainerDef, HealthDef, IngressDef, MountDef, ServiceDef, TaskDef
from dockyard.plan.supervisor import DOCKER_SOCKET, own_image
from dockyard.spec.loaded import LoadedEnvironment

AGENT_SERVICE = "catalog-agent"
"""The name of the catalog agent (an accessory) in an environment with registrars."""
AGENT_CONTAINER = "agent"
AGENT_PROGRAM = "/usr/local/lib/dockyard/agent.py"
HEARTBEAT = "/tmp/dockyard-catalog-agent.alive"
"""A file the agent touches after every pass that read the engine."""
HEARTBEAT_MAX_AGE = 30
STOP_GRACE = 2.0


@dataclass(frozen=True)
class Route:
    """How a service's port is reached: ``public`` (the ingress's public address, and
    the Host to ask for) or ``network`` (a name on the environment's network:
    through the ingress, or straight to a replica by Docker's DNS)."""

    kind: Literal["public", "network"]
    url: str
    port: int
    via: Literal["ingress", "dns"]

    def __str__(self) -> str:
        return self.url


def service_routes(
    service: str,
    ports: Sequence[int],
    ingress: IngressDef | None,
    public: str | None,
    aliases: Sequence[str] | None = None,
) -> list[Route]:
    """The routes to ``ports`` of ``service``: its public routes (when the ingress
    publishes them at ``public``, e.g. ``http://127.0.0.1:8080``), its name through
    the ingress for each proxied port, and its names (``aliases``, the service's
    name when None) by Docker's DNS for the others."""
    proxy = ingress.proxy(service) if ingress is not None else None
    proxied = set(proxy.ports) if proxy is not None else set()
    routes: list[Route] = []
    if ingress is not None and public is not None:
        for r in ingress.routes:
            if r.service == service:
                url = public + ("" if r.path == "/" else r.path)
                url = url if r.host is None else f"{url} (Host: {r.host})"
                routes.append(Route("public", url, r.port, "ingress"))
    names = [service] if aliases is None else list(aliases)
    for port in sorted(set(ports)):
        if port in proxied:
            routes.append(Route("network", f"http://{service}:{port}", port, "ingress"))
        else:
            routes += [Route("network", f"{name}:{port}", port, "dns") for name in names]
    return routes


def agent_service(
    environment: str,
    image: str,
    registrars: Iterable[Mapping[str, object]],
    routes: Mapping[str, Mapping[int, Sequence[str]]],
    interval: float = 1.0,
    mounts: Sequence[MountDef] = (),
) -> ServiceDef:
    """The catalog agent of ``environment``: ``registrars`` as the environment file
    lists them (JSON form), ``routes`` of each service's ports (what entries say
    besides the address), a pass every ``interval`` seconds."""
    health = HealthDef(
        test=[
            "CMD",
            "python3",
            "-c",
            "import os, sys, time; "
            f"sys.exit(time.time() - os.stat('{HEARTBEAT}').st_mtime > {HEARTBEAT_MAX_AGE})",
        ],
        interval=2.0,
        timeout=2.0,
        retries=3,
        start_period=10.0,
    )
    wire = {svc: {str(p): list(urls) for p, urls in ports.items()} for svc, ports in routes.items()}
    container = ContainerDef(
        name=AGENT_CONTAINER,
        image=image,
        command=["python3", AGENT_PROGRAM],
        env={
            "DOCKYARD_ENVIRONMENT": environment,
            "DOCKYARD_REGISTRARS": json.dumps(list(registrars), sort_keys=True),
            "DOCKYARD_ROUTES": json.dumps(wire, sort_keys=True),
            "DOCKYARD_INTERVAL": f"{interval:g}",
            "DOCKYARD_HEARTBEAT": HEARTBEAT,
        },
        health=health,
        memory=64 * 1024**2,
        mounts=[MountDef(target=DOCKER_SOCKET, source=DOCKER_SOCKET, read_only=True), *mounts],
        stop_grace=STOP_GRACE,
    )
    return ServiceDef(
        name=AGENT_SERVICE,
        kind="accessory",
        task=TaskDef(containers=[container], restart="always", aliases=[], host_network=True),
        replicas=1,
        max_surge=1,
        max_unavailable=0,
    )


def public_url(env: LoadedEnvironment, ingress: IngressDef | None) -> str | None:
    """Where the ingress serves the public routes, when it publishes a port."""
    config = env.spec.ingress
    return f"http://{config.host_ip}:{config.port}" if ingress and config.port else None


def declared_ports(env: LoadedEnvironment) -> dict[str, list[int]]:
    """Accessory or service -> the port numbers its containers declare."""
    ports: dict[str, list[int]] = {
        name: [p.port for p in acc.ports] for name, acc in env.spec.accessories.items()
    }
    for svc in env.services:
        ports[svc.name] = [p.port for c in svc.spec.containers.values() for p in c.ports]
    return ports


def environment_routes(
    env: LoadedEnvironment, ingress: IngressDef | None
) -> dict[str, dict[int, list[str]]]:
    """Service or accessory -> port -> the URLs of the routes to it."""
    public = public_url(env, ingress)
    found: dict[str, dict[int, list[str]]] = {}
    for name, numbers in declared_ports(env).items():
        by_port: dict[int, list[str]] = {}
        for route in service_routes(name, numbers, ingress, public):
            by_port.setdefault(route.port, []).append(route.url)
        found[name] = by_port
    return found


def add_agent(
    services: MutableMapping[str, ServiceDef],
    env: LoadedEnvironment,
    images: Mapping[str, str],
    ingress: IngressDef | None,
    only: Collection[str] | None = None,
) -> None:
    """Add the catalog agent to ``services`` when the environment lists registrars
    (a deploy of the whole environment, or one that names it in ``only``);
    ``ingress``: what the environment's ingress routes."""
    discovery = env.spec.discovery
    if not wants_agent(env) or (only is not None and AGENT_SERVICE not in only):
        return
    image = own_image(services, images, AGENT_SERVICE, "the environment's catalog agent")
    registrars = [r.model_dump(mode="json") for r in discovery.registrars]
    mounts = []
    if env.spec.metrics.prometheus is not None:  # it keeps Prometheus's targets file
        registrars.append(metrics_registrar())
        mounts.append(targets_mount(env.name, read_only=False))
    routes = environment_routes(env, ingress)
    services[AGENT_SERVICE] = agent_service(
        env.name, image, registrars, routes, discovery.interval, mounts
    )


def wants_agent(env: LoadedEnvironment) -> bool:
    """Whether the environment runs a catalog agent: it lists registrars, or its
    Prometheus needs a targets file."""
    return bool(env.spec.discovery.registrars) or env.spec.metrics.prometheus is not None
