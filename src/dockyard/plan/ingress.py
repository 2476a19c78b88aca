"""The ingress accessory's definition: what runs, on which ports, under which names.
Pure; the image and the admin API client are in ``dockyard.discovery``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dockyard.errors import SpecError
from dockyard.plan.model import ContainerDef, HealthDef, PortDef, ServiceDef, TaskDef

INGRESS_SERVICE = "ingress"
"""The name of the ingress service (an accessory) in every environment."""
INGRESS_CONTAINER = "caddy"
ADMIN_PORT = 2019
ADMIN_LISTEN = f"localhost:{ADMIN_PORT}"
"""Where Caddy's admin API listens: inside the container only."""
PUBLIC_PORT = 80
"""The port the public server listens on inside the container."""
STOP_GRACE = 3.0
"""Seconds Caddy gets to finish requests in flight when the ingress stops."""
ADMIN_URL = f"http://127.0.0.1:{ADMIN_PORT}"

SYSCTLS = {"net.ipv4.tcp_migrate_req": "1"}
"""Set in the ingress's network namespace: when Caddy loads a config, connections
still waiting on the old listening socket move to the new one instead of being
reset (see docs/ingress.md)."""

HEALTH = HealthDef(
    test=[
        "CMD",
        "python3",
        "-c",
        f"import urllib.request; urllib.request.urlopen('{ADMIN_URL}/config/', timeout=1)",
    ],
    interval=1.0,
    timeout=2.0,
    retries=3,
    start_period=5.0,
)
"""The ingress is healthy when its admin API answers."""


def ingress_service(
    environment: str,
    image: str,
    public_port: int | None,
    host_ip: str = "127.0.0.1",
    proxied: Mapping[str, Iterable[int]] | None = None,
) -> ServiceDef:
    """The ingress accessory of ``environment``: one Caddy container that publishes
    ``public_port`` (when given) on ``host_ip`` (the public routes, port 80 inside), listens on
    every proxied port, and holds the network alias of every service in
    ``proxied`` (name → ports), whose replicas then need no alias of their own.
    """
    proxied = {name: sorted(set(ports)) for name, ports in (proxied or {}).items()}
    if INGRESS_SERVICE in proxied:
        raise SpecError(
            f"a service named {INGRESS_SERVICE} cannot be proxied: the ingress has that name",
            hint="Rename the service.",
        )
    ports = sorted({p for listed in proxied.values() for p in listed} - {PUBLIC_PORT})
    if ADMIN_PORT in ports:
        raise SpecError(
            f"port {ADMIN_PORT} cannot be proxied: it is the ingress's admin API",
            hint="Serve the service on another port.",
        )
    container = ContainerDef(
        name=INGRESS_CONTAINER,
        image=image,
        env={"DOCKYARD_ENVIRONMENT": environment},
        ports=[
            PortDef(name="http", port=PUBLIC_PORT, publish=public_port, host_ip=host_ip),
            *(PortDef(name=f"proxy-{p}", port=p) for p in ports),
        ],
        health=HEALTH,
        stop_grace=STOP_GRACE,
        sysctls=dict(SYSCTLS),
    )
    return ServiceDef(
        name=INGRESS_SERVICE,
        kind="accessory",
        task=TaskDef(containers=[container], restart="unless-stopped", aliases=sorted(proxied)),
        replicas=1,
        max_surge=0,
        max_unavailable=1,
    )
