"""Keeping the ingress's routes in step with a rollout.

A :class:`Router` holds the routing table the ingress runs and changes it one
step at a time: replicas join the rotation once they are ready and old ones
leave it in the same load (``rotate``), then the old ones finish the requests
they are answering (``drain``) before they stop and are forgotten. Every
change loads the whole config into Caddy, which keeps its listeners, so no
request is refused meanwhile.

The table is computed from what runs (``sync``): the ready replicas of each
proxied service, so a process that died mid-rollout leaves nothing to undo — the
next run reads the replicas again and loads what it finds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from dockyard.discovery.caddy import HealthProbe, ProxiedService, RoutingTable, caddy_config
from dockyard.discovery.ingress import IngressClient, IngressUnavailable
from dockyard.discovery.traffic import TrafficLog
from dockyard.engines.access import ContainerAccess
from dockyard.engines.environment import Environments
from dockyard.errors import DeployError
from dockyard.events import Event, Reporter
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    DesiredState,
    IngressDef,
    ProxyDef,
)

READY_TIMEOUT = 60.0
"""Seconds the ingress's admin API may take to answer after the ingress starts."""


def dial(task: ActualTask, port: int) -> str:
    """Where the ingress reaches ``task`` on ``port``: its main container's name,
    which resolves on the environment's network."""
    return f"{task.task}:{port}"


class IngressEngine(Environments, ContainerAccess, Protocol):
    """What driving the ingress needs of an engine: what runs, and a way into the
    ingress's container (see :class:`~dockyard.discovery.ingress.IngressClient`)."""


class Router:
    """The routes of one environment's ingress during one deploy. Thread-safe:
    services roll out at the same time."""

    def __init__(self, engine: IngressEngine, desired: DesiredState, report: Reporter) -> None:
        assert desired.ingress is not None
        self.engine = engine
        self.desired = desired
        self.ingress: IngressDef = desired.ingress
        self.report = report
        self.client: IngressClient | None = None
        self.table = RoutingTable()
        self._traffic: TrafficLog | None = None
        self._lock = threading.RLock()

    def proxies(self, service: str) -> bool:
        return self.ingress.proxy(service) is not None

    def dials(self, service: str, task: ActualTask) -> list[str]:
        """Where the ingress reaches ``task`` of ``service``, on each proxied port."""
        proxy = self.ingress.proxy(service)
        return [dial(task, port) for port in proxy.ports] if proxy is not None else []

    def traffic(self) -> TrafficLog:
        """The traffic log of the ingress this router drives; a new one once a new
        Caddy took over. Nothing is loaded: the routes change at the first
        rotation, not before (a new health probe would reach the old replicas)."""
        with self._lock:
            if self.client is not None:
                container = self.client.container_id
            else:
                container = self._find(self.engine.observe(self.desired.environment))
            if self._traffic is None or self._traffic.container_id != container:
                self._traffic = TrafficLog(self.engine, container)
            return self._traffic

    # ------------------------------------------------------------- connecting

    def attach(self, actual: ActualState, *, wait: bool = True) -> None:
        """Find the running ingress in ``actual`` and (with ``wait``) wait for its
        admin API to answer."""
        self.client = IngressClient(self.engine, self._find(actual))
        if wait:
            self.client.wait_ready(READY_TIMEOUT)

    def _find(self, actual: ActualState) -> str:
        """The container of the Caddy to drive in ``actual``."""
        caddy = next((s for s in self.desired.services if s.name == self.ingress.service), None)
        wanted = caddy.task.spec_hash() if caddy is not None else None
        found = [t for t in actual.tasks_of(self.ingress.service) if t.main is not None]
        # Mid-upgrade (a deploy killed then) two may run: the one to keep first.
        found.sort(key=lambda t: (not t.running, t.spec_hash != wanted))
        ingress = found[0] if found else None
        if ingress is None or ingress.main is None:
            raise DeployError(
                f"the ingress of {self.desired.environment} is not running",
                hint="Deploy the whole environment (without --only) to start it.",
            )
        return ingress.main.id

    def started(self, service: str, task: ActualTask) -> None:
        """A task of ``service`` became ready. When it is a new Caddy, it gets the
        routes and becomes the one this router drives; once it answers, the old
        one can stop (SIGTERM: it finishes what it is answering, and connections
        still queued on its listeners move to the new one's)."""
        if service != self.ingress.service or task.main is None:
            return
        with self._lock:
            if self.client is None:
                self.table = self.wanted(self.engine.observe(self.desired.environment))
            self.client = IngressClient(self.engine, task.main.id)
            self.client.wait_ready(READY_TIMEOUT)
            self._load()
        self.report(Event("route", service, f"{task.task} serves the routes"))

    def stopping(self, task: ActualTask) -> None:
        """``task`` is about to stop. When it is the Caddy this router drives (or it
        drives none yet) and another Caddy runs — a deploy stopped mid-upgrade
        left two — the other one gets the routes first and is driven from then on."""
        if task.service != self.ingress.service or task.main is None:
            return
        with self._lock:
            if self.client is not None and self.client.container_id != task.main.id:
                return
            actual = self.engine.observe(self.desired.environment)
            others = [t for t in actual.tasks_of(task.service) if t.task != task.task]
            if not any(t.running for t in others):
                return
            self.attach(actual.model_copy(update={"tasks": others}))
            self.table = self.wanted(actual)
            self._load()

    def wanted(self, actual: ActualState, *, running: bool = False) -> RoutingTable:
        """The table for what runs in ``actual`` (see ``routing_table``)."""
        return routing_table(self.ingress, actual, running=running)

    def sync(self, actual: ActualState) -> None:
        """Load the table for what runs in ``actual`` (attaching to the ingress first)."""
        with self._lock:
            if self.client is None:
                self.attach(actual, wait=False)
            self.table = self.wanted(actual)
            self._load()

    def _ensure(self) -> None:
        """Attach and load the routes of what runs, once, before the first change."""
        with self._lock:
            if self.client is None:
                self.sync(self.engine.observe(self.desired.environment))

    # ------------------------------------------------------------- rotation

    def rotate(
        self,
        service: str,
        admit: Sequence[ActualTask] = (),
        retire: Sequence[ActualTask] = (),
    ) -> list[str]:
        """In one config load, put ``admit`` (ready replicas of ``service``) into
        rotation and take ``retire`` out of it. Returns the dial addresses taken
        out: the ingress keeps counting their requests in flight (see ``drain``)."""
        proxy = self.ingress.proxy(service)
        if proxy is None or not (admit or retire):
            return []
        gone = [dial(t, port) for t in retire for port in proxy.ports]
        self._ensure()
        with self._lock:
            table = self.table
            for port in proxy.ports:
                current = table.upstreams(service, port)
                added = [dial(t, port) for t in admit if dial(t, port) not in current]
                table = table.with_upstreams(service, port, sorted(current + added))
            self.table = table.drain(gone)
            self._load()
        if admit:
            names = ", ".join(t.task for t in admit)
            self.report(Event("route", service, f"{names} in rotation"))
        if retire:
            names = ", ".join(t.task for t in retire)
            self.report(Event("route", service, f"{names} out of rotation, draining"))
        return gone

    def drain(self, service: str, gone: Iterable[str], timeout: float) -> None:
        """Wait until the ingress answers no request through ``gone``, at most ``timeout``."""
        watched = list(gone)
        if not watched:
            return
        if self._client().wait_drained(watched, timeout):
            self.report(Event("route", service, "drained: no request in flight"))
        else:
            self.report(
                Event("warn", service, f"requests still in flight after {timeout:g}s of draining")
            )

    def forget(self, gone: Iterable[str]) -> None:
        """Drop stopped replicas from the table's draining list. Nothing is loaded:
        the next change (or the sync that ends every deploy) carries it."""
        with self._lock:
            self.table = self.table.forget(gone)

    # ------------------------------------------------------------- internals

    def _client(self) -> IngressClient:
        if self.client is None:
            raise DeployError("the ingress was not attached before its routes changed")
        return self.client

    def _load(self) -> None:
        """Load the table; an ingress that is starting (or restarting) is waited for."""
        client = self._client()
        config = caddy_config(self.table)
        try:
            client.load(config)
        except IngressUnavailable:
            client.wait_ready(READY_TIMEOUT)
            client.load(config)


def routing_table(
    ingress: IngressDef, actual: ActualState, *, running: bool = False
) -> RoutingTable:
    """The table for what runs in ``actual``: every healthy replica of every service
    ``ingress`` proxies in rotation (every running one, with ``running``), and the
    ingress's metrics server when it has one."""
    services = []
    for proxy in ingress.proxied:
        tasks = actual.tasks_of(proxy.service)
        ready = [t for t in tasks if t.running] if running else [t for t in tasks if t.healthy]
        upstreams = {port: sorted(dial(t, port) for t in ready) for port in proxy.ports}
        services.append(
            ProxiedService(name=proxy.service, upstreams=upstreams, health=_probe(proxy))
        )
    return RoutingTable(
        services=services, routes=list(ingress.routes), metrics_port=ingress.metrics_port
    )


def _probe(proxy: ProxyDef) -> HealthProbe | None:
    if proxy.health_path is None:
        return None
    return HealthProbe(
        path=proxy.health_path,
        port=proxy.health_port,
        interval=proxy.health_interval,
        timeout=proxy.health_timeout,
    )
