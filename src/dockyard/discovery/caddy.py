"""The ingress's Caddy configuration, computed from a routing table. Pure: no I/O.

A :class:`RoutingTable` says which services the ingress stands in for, which
healthy replicas answer on each of their ports, and which public routes lead to
them. :func:`caddy_config` turns it into the JSON document that Caddy's admin
API takes at ``POST /load``:

- one server on ``:80`` (inside the container) for the public routes, matched
  by host and path prefix, longest prefix first; anything else gets a 404;
- one server per proxied port (``:8000``, ...), where the Host header (the
  service's name, with or without ``:port``) picks the service; the ingress
  holds the service's network alias, so ``http://api:8000`` from any container
  of the environment lands here;
- with the table's ``metrics_port`` (an environment with a Prometheus), one
  server there that answers every request with Caddy's metrics (the ``metrics``
  handler), and Caddy's request metrics turned on for the other servers (Caddy
  2.6 counts a server's requests only when it says ``metrics: {}``);
- every route ends in a ``reverse_proxy`` to the replicas listed in the table
  (Dockyard lists healthy ones only; a replica that dies later is left out by
  the ingress's own probe, and a request it refuses is sent to the next one),
  or in a 503 that says so when none is listed.

Replacing the whole config is how upstreams change: Caddy keeps its listening
sockets across a load, lets requests in flight finish on the old config, and a
request that finds no live upstream waits (``try_duration``) instead of failing.
Three facts of Caddy 2.6 shape the config (docs/ingress.md says more):

- its passive health check cannot tell a refused connection from a request
  that broke off (the replica closed without an answer), and ejects a replica
  for either, so the config has none: requests are retried instead (on any
  connection failure; after a break-off, for safe methods only);

- an explicit ``flush_interval: -1`` ties each proxied request to the config it
  started under, and loading a new config cancels it (a 502), so the config
  leaves flushing to Caddy, which streams event streams and responses of
  unknown length at once anyway;
- Caddy forgets an upstream, and its count of requests in flight, as soon as
  the loaded config no longer names it, so a replica being drained stays named
  on a route that no request matches (``RoutingTable.draining``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import Field, model_validator

from dockyard.discovery.traffic import logging_config
from dockyard.plan.ingress import ADMIN_LISTEN, PUBLIC_PORT
from dockyard.plan.model import PublicRoute, Value

TRY_DURATION = "5s"
"""How long a request may wait for a live upstream (while upstreams change)."""
TRY_INTERVAL = "250ms"
"""How often it looks for one meanwhile."""
RETRY_METHODS = ["GET", "HEAD", "OPTIONS"]
"""Requests sent again to another replica when one broke off after the request
went out (it closed without an answer, or died): the safe methods, which change
nothing. Any request is sent again when its connection could not be made."""

PUBLIC_SERVER = "public"
METRICS_SERVER = "metrics"
DRAINING_VAR = "dockyard.draining"
"""A request variable nothing sets: the route of the draining upstreams matches on it."""


class HealthProbe(Value):
    """An HTTP GET the ingress sends each upstream every ``interval`` seconds (to
    ``port``, or the proxied port); an upstream that fails it gets no requests until
    it passes again. Replicas that die between two deploys leave rotation this way."""

    path: str
    port: int | None = None
    interval: float = 1.0
    timeout: float = 1.0


class ProxiedService(Value):
    """A service the ingress stands in for: per proxied port, the dial addresses
    (``"<container name>:<port>"``) of its healthy replicas. An empty list means
    the port is proxied but no replica is ready: requests get a 503."""

    name: str
    upstreams: dict[int, list[str]] = Field(default_factory=dict)
    health: HealthProbe | None = None


class RoutingTable(Value):
    """What the ingress of one environment does; the input of :func:`caddy_config`.

    ``draining`` lists replicas that get no new requests but may still be
    answering some: Caddy forgets an upstream (and its count of requests in
    flight) as soon as no config names it, so a replica being drained stays
    named, on a route that no request matches, until it has been stopped.
    """

    services: list[ProxiedService] = Field(default_factory=list)
    routes: list[PublicRoute] = Field(default_factory=list)
    draining: list[str] = Field(default_factory=list)
    metrics_port: int | None = None

    @model_validator(mode="after")
    def _check(self) -> RoutingTable:
        names = [s.name for s in self.services]
        if len(names) != len(set(names)):
            raise ValueError(f"a service is listed twice in the routing table: {names}")
        for port in self.ports():
            if not 0 < port < 65536:
                raise ValueError(f"the ingress cannot proxy port {port}: ports run from 1 to 65535")
        if self.metrics_port is not None and self.metrics_port in (*self.ports(), PUBLIC_PORT):
            raise ValueError(
                f"the ingress cannot serve its metrics on port {self.metrics_port}: "
                "another of its servers listens there"
            )
        both = sorted(set(self.draining) & self.live())
        if both:
            raise ValueError(f"upstreams cannot be live and draining at once: {both}")
        ports = {s.name: set(s.upstreams) for s in self.services}
        for route in self.routes:
            if route.port not in ports.get(route.service, set()):
                raise ValueError(
                    f"route {route.host or '*'}{route.path} leads to port {route.port} of "
                    f"{route.service}, which the routing table does not proxy"
                )
        return self

    def service(self, name: str) -> ProxiedService | None:
        return next((s for s in self.services if s.name == name), None)

    def upstreams(self, service: str, port: int) -> list[str]:
        found = self.service(service)
        return list(found.upstreams.get(port, [])) if found else []

    def with_upstreams(self, service: str, port: int, dials: list[str]) -> RoutingTable:
        """The same table with ``dials`` as the upstreams of ``service`` on ``port``
        (the service and port are added when missing)."""
        services = list(self.services)
        found = self.service(service)
        current = found.upstreams if found else {}
        updated = ProxiedService(
            name=service,
            upstreams={**current, port: list(dials)},
            health=found.health if found else None,
        )
        if found is None:
            services.append(updated)
        else:
            services[services.index(found)] = updated
        draining = [d for d in self.draining if d not in dials]
        return RoutingTable(
            services=services,
            routes=list(self.routes),
            draining=draining,
            metrics_port=self.metrics_port,
        )

    def ports(self) -> list[int]:
        """Every proxied port, ascending."""
        return sorted({p for s in self.services for p in s.upstreams})

    def live(self) -> set[str]:
        """Every upstream that new requests may go to."""
        return {d for s in self.services for dials in s.upstreams.values() for d in dials}

    def drain(self, dials: Iterable[str]) -> RoutingTable:
        """The same table with ``dials`` taken out of every upstream list and
        listed as draining: no new request reaches them, and Caddy keeps counting
        the requests they are still answering."""
        gone = set(dials)
        services = [
            ProxiedService(
                name=s.name,
                upstreams={p: [d for d in ds if d not in gone] for p, ds in s.upstreams.items()},
                health=s.health,
            )
            for s in self.services
        ]
        draining = [*self.draining, *sorted(gone - set(self.draining))]
        return RoutingTable(
            services=services,
            routes=list(self.routes),
            draining=draining,
            metrics_port=self.metrics_port,
        )

    def forget(self, dials: Iterable[str]) -> RoutingTable:
        """The same table without ``dials`` among the draining (once they are stopped)."""
        gone = set(dials)
        return self.model_copy(update={"draining": [d for d in self.draining if d not in gone]})


def caddy_config(
    table: RoutingTable, *, public_port: int = PUBLIC_PORT, traffic: bool = True
) -> dict[str, Any]:
    """The Caddy JSON config for ``table``.

    Servers are named ``public`` and ``port-<n>``, and ``metrics`` with the table's
    ``metrics_port``. When a proxied port is also the public port, one server
    listens there: the services' Host routes come first, then the public routes.
    The public server writes an access log; with ``traffic`` the proxy logs every
    attempt for the figures of :mod:`dockyard.discovery.traffic`.
    """
    servers: dict[str, dict[str, Any]] = {}
    for port in table.ports():
        if port != public_port:
            servers[f"port-{port}"] = _server(port, _service_routes(table, port))
    public = _service_routes(table, public_port) + _public_routes(table) + _draining(table)
    servers[PUBLIC_SERVER] = {**_server(public_port, public), "logs": {}}
    if table.metrics_port is not None:
        servers = {name: {**server, "metrics": {}} for name, server in servers.items()}
        servers[METRICS_SERVER] = metrics_server(table.metrics_port)
    return {
        **bootstrap_config(traffic=traffic),
        "apps": {"http": {"servers": dict(sorted(servers.items()))}},
    }


def bootstrap_config(*, traffic: bool = True) -> dict[str, Any]:
    """What a fresh ingress starts with (the image's ``bootstrap.json``): the admin
    API, no servers, and the logs of :func:`~dockyard.discovery.traffic.logging_config`."""
    return {
        "admin": {"listen": ADMIN_LISTEN, "config": {"persist": True}},
        "logging": logging_config(traffic=traffic),
    }


def metrics_server(port: int) -> dict[str, Any]:
    """A server on ``port`` that answers any request with Caddy's metrics, in
    Prometheus's format. Its own requests are not counted (no ``metrics: {}``)."""
    return {
        "listen": [f":{port}"],
        "automatic_https": {"disable": True},
        "routes": [{"handle": [{"handler": "metrics"}]}],
    }


def route_order(route: PublicRoute) -> tuple[int, bool, str]:
    """Longest path first; for equal paths, a named host before any host."""
    return (-len(route.path), route.host is None, route.host or "")


def path_patterns(path: str) -> list[str] | None:
    """Caddy path patterns for the prefix ``path`` on segment boundaries: ``/api``
    matches ``/api`` and ``/api/...``, not ``/apis``. None for ``/`` (everything)."""
    if path == "/":
        return None
    if path.endswith("/"):
        return [f"{path}*"]
    return [path, f"{path}/*"]


# ------------------------------------------------------------------ pieces


def _server(port: int, routes: list[dict[str, Any]]) -> dict[str, Any]:
    fallback = _text_response(404, "no route on the ingress matches this request\n")
    return {
        "listen": [f":{port}"],
        # No certificates and no HTTP->HTTPS redirects: service names are not domains.
        "automatic_https": {"disable": True},
        "routes": [*routes, {"handle": [fallback]}],
    }


def _service_routes(table: RoutingTable, port: int) -> list[dict[str, Any]]:
    """Host routes on a proxied port: Caddy's host matcher ignores the request's
    port, so ``Host: api`` and ``Host: api:8000`` both match ``api``."""
    routes = []
    for service in sorted(table.services, key=lambda s: s.name):
        if port in service.upstreams:
            handler = _handler(service, port)
            routes.append(
                {"match": [{"host": [service.name]}], "handle": [handler], "terminal": True}
            )
    return routes


def _public_routes(table: RoutingTable) -> list[dict[str, Any]]:
    routes = []
    for route in sorted(table.routes, key=route_order):
        matcher: dict[str, Any] = {}
        if route.host is not None:
            matcher["host"] = [route.host]
        patterns = path_patterns(route.path)
        if patterns is not None:
            matcher["path"] = patterns
        found = table.service(route.service)
        assert found is not None  # the table's validator checks every route's service
        handler = _handler(found, route.port)
        entry: dict[str, Any] = {"handle": [handler], "terminal": True}
        if matcher:
            entry = {"match": [matcher], **entry}
        routes.append(entry)
    return routes


def _draining(table: RoutingTable) -> list[dict[str, Any]]:
    if not table.draining:
        return []
    never = {"vars": {DRAINING_VAR: ["yes"]}}
    return [{"match": [never], "handle": [reverse_proxy(table.draining)], "terminal": True}]


def _handler(service: ProxiedService, port: int) -> dict[str, Any]:
    dials = service.upstreams.get(port, [])
    if not dials:
        return _text_response(
            503, f"no healthy replica of {service.name} answers on port {port}\n", retry_after=1
        )
    return reverse_proxy(dials, service.health)


def reverse_proxy(dials: list[str], health: HealthProbe | None = None) -> dict[str, Any]:
    """A ``reverse_proxy`` handler to ``dials`` that rides out upstream changes.

    No passive health checks: Caddy 2.6 counts a request that broke off after it
    reached the replica (closed without an answer) as a failure of that replica,
    just like a refused connection, so two such requests took both replicas of a
    service out of rotation. What keeps requests off a dead replica instead:
    the active probe (for services with an HTTP health check), and the retry of
    a request whose connection failed, on the next replica, within
    ``try_duration``.
    """
    checks: dict[str, Any] = {}
    if health is not None:
        active: dict[str, Any] = {
            "uri": health.path,
            "interval": f"{health.interval:g}s",
            "timeout": f"{health.timeout:g}s",
        }
        if health.port is not None:
            active["port"] = health.port
        checks["active"] = active
    return {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": dial} for dial in dials],
        "load_balancing": {
            "selection_policy": {"policy": "round_robin"},
            "try_duration": TRY_DURATION,
            "try_interval": TRY_INTERVAL,
            "retry_match": [{"method": list(RETRY_METHODS)}],
        },
        **({"health_checks": checks} if checks else {}),
    }


def _text_response(status: int, body: str, retry_after: int | None = None) -> dict[str, Any]:
    headers = {"Content-Type": ["text/plain; charset=utf-8"]}
    if retry_after is not None:
        headers["Retry-After"] = [str(retry_after)]
    return {"handler": "static_response", "status_code": status, "headers": headers, "body": body}
