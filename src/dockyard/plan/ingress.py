"""The ingress's definition: what runs, on which ports, under which names. Pure;
the image and the admin API client are in ``dockyard.discovery``.

The ingress is two accessories:

- the **holder** (``ingress-holder``): a process that only waits, in a container
  that owns the ingress's network namespace: the published public port, the
  network aliases of the proxied services, the namespaced sysctls. It changes
  only when one of those does;
- **Caddy** (``ingress``): a container that joins the holder's namespace
  (``TaskDef.joins``) and serves there. A new Caddy (a new ingress image) starts
  beside the old one, both listening on the same ports (SO_REUSEPORT), takes the
  routes, and the old one stops gracefully: no request is refused meanwhile.

Each Caddy's admin API listens on a unix socket in its own container's file
system, so two generations never compete for an address and nothing on the
network reaches it. In an environment with a Prometheus, Caddy also serves its
metrics on ``METRICS_PORT``, published nowhere; Prometheus reaches them by a name
the holder already holds (:func:`metrics_target`), so turning Prometheus on
changes Caddy's config, never the holder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dockyard.errors import SpecError
from dockyard.plan.model import ContainerDef, HealthDef, PortDef, ServiceDef, TaskDef, task_name
from dockyard.spec.metrics import INGRESS_METRICS_PORT

INGRESS_SERVICE = "ingress"
"""The name of the ingress's Caddy (an accessory) in every environment."""
HOLDER_SERVICE = "ingress-holder"
"""The name of the accessory that holds the ingress's network namespace."""
RESERVED = (INGRESS_SERVICE, HOLDER_SERVICE)
"""Names no service or accessory of an environment with an ingress may have."""
INGRESS_CONTAINER = "caddy"
HOLDER_CONTAINER = "holder"
USER = "caddy"
"""Caddy runs as Debian's ``caddy`` user; it may bind ports below 1024 because the
holder's namespace sets ``ip_unprivileged_port_start=0``."""
ADMIN_SOCKET = "/run/dockyard-ingress/admin.sock"
"""Caddy's admin API: a unix socket inside the Caddy container only."""
ADMIN_LISTEN = f"unix/{ADMIN_SOCKET}"
"""The socket in the form of Caddy's ``admin.listen``."""
PUBLIC_PORT = 80
"""The port the public server listens on inside the namespace."""
METRICS_PORT = INGRESS_METRICS_PORT
"""The port Caddy serves its metrics on inside the namespace, in an environment
with a Prometheus; no service's port may be proxied there (DY130)."""
STOP_GRACE = 10.0
"""Seconds a Caddy that stops gets to finish the requests it is answering."""
HOLDER_STOP_GRACE = 1.0

SYSCTLS = {
    "net.ipv4.tcp_migrate_req": "1",
    "net.ipv4.ip_unprivileged_port_start": "0",
}
"""Set in the ingress's network namespace (on the holder). ``tcp_migrate_req``:
when a listening socket closes (Caddy loads a config, or a Caddy stops while
another serves), connections still waiting on it move to another socket of the
same port instead of being reset. ``ip_unprivileged_port_start``: Caddy, not
root, may listen on port 80 and on proxied ports below 1024."""

HOLDER_COMMAND = [
    "python3",
    "-c",
    "import signal, sys\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
    "while True: signal.pause()",
]
"""The holder waits for SIGTERM (as PID 1 it must handle it itself)."""

_ADMIN_CHECK = (
    "import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(1); "
    f"s.connect({ADMIN_SOCKET!r}); "
    "s.sendall(b'GET /config/ HTTP/1.0\\r\\nHost:\\r\\n\\r\\n'); "
    "assert b' 200 ' in s.recv(16)"
)
HEALTH = HealthDef(
    test=["CMD", "python3", "-c", _ADMIN_CHECK],
    interval=1.0,
    timeout=2.0,
    retries=3,
    start_period=5.0,
)
"""Caddy is healthy when its admin API answers."""


def holder_service(
    environment: str,
    image: str,
    public_port: int | None,
    host_ip: str = "127.0.0.1",
    proxied: Mapping[str, Iterable[int]] | None = None,
    *,
    metrics: bool = False,
) -> ServiceDef:
    """The holder of ``environment``'s ingress namespace: it publishes
    ``public_port`` (when given) on ``host_ip`` to port 80, exposes every proxied
    port, holds the network alias of every service in ``proxied`` (name → ports),
    whose replicas then need no alias of their own, and carries the sysctls.
    With ``metrics`` (the environment has a Prometheus) no service may be
    proxied on ``METRICS_PORT``, where Caddy serves its metrics.
    ``image`` only needs python3; nothing in it is served."""
    proxied = {name: sorted(set(ports)) for name, ports in (proxied or {}).items()}
    clash = sorted(set(proxied) & set(RESERVED))
    if clash:
        raise SpecError(
            f"a service named {clash[0]} cannot be proxied: the ingress has that name",
            hint="Rename the service.",
        )
    ports = sorted({p for listed in proxied.values() for p in listed} - {PUBLIC_PORT})
    if metrics and METRICS_PORT in ports:
        raise SpecError(
            f"port {METRICS_PORT} cannot be proxied: the ingress serves its metrics there",
            hint="Choose another port for the service, or `proxy: false`.",
        )
    container = ContainerDef(
        name=HOLDER_CONTAINER,
        image=image,
        command=list(HOLDER_COMMAND),
        env={"DOCKYARD_ENVIRONMENT": environment},
        ports=[
            PortDef(name="http", port=PUBLIC_PORT, publish=public_port, host_ip=host_ip),
            *(PortDef(name=f"proxy-{p}", port=p) for p in ports),
        ],
        stop_grace=HOLDER_STOP_GRACE,
        sysctls=dict(SYSCTLS),
    )
    return ServiceDef(
        name=HOLDER_SERVICE,
        kind="accessory",
        task=TaskDef(containers=[container], restart="unless-stopped", aliases=sorted(proxied)),
        replicas=1,
        max_surge=0,
        max_unavailable=1,
    )


def ingress_service(environment: str, image: str, holder: ServiceDef) -> ServiceDef:
    """The Caddy of ``environment``'s ingress, in the namespace of ``holder`` (its
    task name is part of the definition, so a new holder brings a new Caddy).
    Replaced start-first: the new one serves before the old one stops."""
    container = ContainerDef(
        name=INGRESS_CONTAINER,
        image=image,
        user=USER,
        env={"DOCKYARD_ENVIRONMENT": environment},
        health=HEALTH,
        stop_grace=STOP_GRACE,
    )
    return ServiceDef(
        name=INGRESS_SERVICE,
        kind="accessory",
        task=TaskDef(
            containers=[container],
            restart="unless-stopped",
            aliases=[],
            joins=holder_task(environment, holder),
        ),
        replicas=1,
        depends_on=[HOLDER_SERVICE],
        max_surge=1,
        max_unavailable=0,
    )


def holder_task(environment: str, holder: ServiceDef) -> str:
    """The container name of the holder's (single) task."""
    return task_name(environment, holder.name, 1, holder.task.spec_hash())


def metrics_target(proxied: Iterable[str], port: int) -> str:
    """Where Prometheus scrapes Caddy's metrics: ``port`` at the first of the
    ``proxied`` services' names, which the holder holds on the environment's
    network (every Caddy serves in its namespace). The name changes only with
    the set of proxied services, which replaces the holder anyway."""
    return f"{min(proxied)}:{port}"
