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
from typing import Any

from dockyard.deploy.events import Event, Reporter, silent
from dockyard.discovery.caddy import HealthProbe, ProxiedService, RoutingTable, caddy_config
from dockyard.discovery.ingress import IngressClient, IngressUnavailable, ingress_build
from dockyard.engines.base import Engine
from dockyard.errors import DeployError, EngineError
from dockyard.plan.desired import ingress_of
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    DesiredState,
    IngressDef,
    Plan,
    ProxyDef,
    Step,
)
from dockyard.spec.loaded import LoadedEnvironment

READY_TIMEOUT = 60.0
"""Seconds the ingress's admin API may take to answer after the ingress starts."""


def ingress_images(engine: Engine, env: LoadedEnvironment, report: Reporter) -> dict[str, str]:
    """Build the ingress image of ``env`` unless the engine has it, and say which
    image its holder runs: ``{"ingress": tag, "ingress-holder": image}``, or nothing
    when the environment has no ingress. The image is built on the engine, from
    files that ship with Dockyard; it is not pushed.

    The holder only waits, so it keeps the image it runs while the engine has
    that image: a new ingress image replaces Caddy alone, which loses no request,
    and not the holder, whose replacement closes the public port for a moment."""
    if ingress_of(env) is None:
        return {}
    holder = _holder_image(engine, env.name)
    request = ingress_build(env.spec.ingress.base_image)
    if not engine.image_present(request.tag):
        report(Event("build", request.service, f"building {request.tag}"))

        def progress(line: str) -> None:
            report(Event("output", request.service, line))

        engine.build(request, progress)
    return {INGRESS_SERVICE: request.tag, HOLDER_SERVICE: holder or request.tag}


def _holder_image(engine: Engine, environment: str) -> str | None:
    for task in engine.observe(environment).tasks_of(HOLDER_SERVICE):
        image = task.definition.main.image if task.definition else None
        if image is not None and engine.image_present(image):
            return image
    return None


def with_routes(engine: Engine, desired: DesiredState, actual: ActualState, steps: Plan) -> Plan:
    """``steps``, plus a step that loads the ingress's routes when nothing else would
    and the running ingress routes otherwise than the spec says (a route was added,
    a replica died). A holder that is started again brings a new Caddy: the old
    one would be left in the old holder's namespace."""
    ingress = desired.ingress
    if ingress is None:
        return steps
    steps = _caddy_follows_holder(engine, actual, _holder_takes_over(actual, steps))
    if steps.changes:
        return steps  # applying any change ends with loading the routes
    running = [t for t in actual.tasks_of(ingress.service) if t.running]
    if not running:
        return steps
    router = Router(engine, desired, silent)
    router.attach(actual, wait=False)
    try:
        if router.in_step(actual):
            return steps
    except IngressUnavailable:
        pass  # starting or restarting: loading the routes will wait for it
    step = Step(
        action="replace",
        target="routes",
        name=ingress.service,
        reason="the ingress routes otherwise than the spec and the healthy replicas say",
    )
    return steps.model_copy(update={"steps": [*steps.steps, step]})


def _holder_takes_over(actual: ActualState, steps: Plan) -> Plan:
    """``steps`` with a first holder started in place of an ingress of one container
    (what Dockyard ran before the split): that one publishes the host port the
    holder needs, so it goes first, and the new Caddy joins the holder after."""
    holder = next((s for s in steps.steps if s.name == HOLDER_SERVICE), None)
    if holder is None or holder.action != "create":
        return steps
    single = [
        t
        for t in actual.tasks_of(INGRESS_SERVICE)
        if t.definition is None or t.definition.joins is None
    ]
    if not single:
        return steps
    takeover = holder.model_copy(
        update={
            "action": "replace",
            "start": [],
            "replace": [single[0].task],
            "reason": "the ingress of one container gives its port and names to a holder",
        }
    )
    return steps.model_copy(update={"steps": [takeover if s is holder else s for s in steps.steps]})


def _caddy_follows_holder(engine: Engine, actual: ActualState, steps: Plan) -> Plan:
    """``steps`` with Caddy replaced when its holder is replaced, or was started
    again since Caddy started (Caddy would stay in the old, empty namespace)."""
    holder = next((s for s in steps.steps if s.name == HOLDER_SERVICE), None)
    caddy = next((s for s in steps.steps if s.name == INGRESS_SERVICE), None)
    if holder is None or caddy is None or caddy.replace or caddy.action == "create":
        return steps
    tasks = [t.task for t in actual.tasks_of(INGRESS_SERVICE)]
    if not tasks:
        return steps
    if holder.action != "noop":
        reason = "its holder is replaced: a new Caddy joins the new namespace"
    elif _cut_off(engine, actual):
        reason = "its holder restarted after it: Caddy is in a namespace of its own"
    else:
        return steps
    follow = caddy.model_copy(
        update={
            "action": "replace",
            "replace": [tasks[0]],
            "stop": [t for t in caddy.stop if t != tasks[0]],
            "reason": reason,
        }
    )
    return steps.model_copy(update={"steps": [follow if s is caddy else s for s in steps.steps]})


_NETNS = ["python3", "-c", "import os; print(os.readlink('/proc/1/ns/net'))"]
"""Prints the network namespace of a container's first process."""


def _cut_off(engine: Engine, actual: ActualState) -> bool:
    """Whether a running Caddy is in another network namespace than the running
    holder's: Docker gives a container that restarts a new namespace, and one
    that joined the old one keeps it (and still counts as running)."""
    holders = [t.main for t in actual.tasks_of(HOLDER_SERVICE) if t.running and t.main]
    caddys = [t.main for t in actual.tasks_of(INGRESS_SERVICE) if t.running and t.main]
    if len(holders) != 1 or not caddys:
        return False
    spaces = set()
    for container in [*holders, *caddys]:
        try:
            code, output = engine.exec(container.id, _NETNS)
        except EngineError:
            return False  # stopped meanwhile: the next look decides
        if code != 0:
            return False
        spaces.add(output.strip())
    return len(spaces) > 1


def dial(task: ActualTask, port: int) -> str:
    """Where the ingress reaches ``task`` on ``port``: its main container's name,
    which resolves on the environment's network."""
    return f"{task.task}:{port}"


class Router:
    """The routes of one environment's ingress during one deploy. Thread-safe:
    services of one wave roll out at the same time."""

    def __init__(self, engine: Engine, desired: DesiredState, report: Reporter) -> None:
        assert desired.ingress is not None
        self.engine = engine
        self.desired = desired
        self.ingress: IngressDef = desired.ingress
        self.report = report
        self.client: IngressClient | None = None
        self.table = RoutingTable()
        self._lock = threading.RLock()

    def proxies(self, service: str) -> bool:
        return self.ingress.proxy(service) is not None

    # ------------------------------------------------------------- connecting

    def attach(self, actual: ActualState, *, wait: bool = True) -> None:
        """Find the running ingress in ``actual`` and (with ``wait``) wait for its
        admin API to answer."""
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
        self.client = IngressClient(self.engine, ingress.main.id)
        if wait:
            self.client.wait_ready(READY_TIMEOUT)

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
        """The table for what runs in ``actual``: every healthy replica of every
        proxied service in rotation (every running one, with ``running``)."""
        services = []
        for proxy in self.ingress.proxied:
            tasks = actual.tasks_of(proxy.service)
            ready = [t for t in tasks if t.running] if running else [t for t in tasks if t.healthy]
            upstreams = {port: sorted(dial(t, port) for t in ready) for port in proxy.ports}
            services.append(
                ProxiedService(name=proxy.service, upstreams=upstreams, health=_probe(proxy))
            )
        return RoutingTable(services=services, routes=list(self.ingress.routes))

    def in_step(self, actual: ActualState) -> bool:
        """Whether the ingress runs the config ``actual`` calls for. A replica whose
        health check failed a moment ago may stay listed: the ingress's own health
        check keeps requests off it."""
        loaded = _comparable(self._client().config())
        return any(
            loaded == _comparable(caddy_config(self.wanted(actual, running=running)))
            for running in (False, True)
        )

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


def _probe(proxy: ProxyDef) -> HealthProbe | None:
    if proxy.health_path is None:
        return None
    return HealthProbe(
        path=proxy.health_path,
        port=proxy.health_port,
        interval=proxy.health_interval,
        timeout=proxy.health_timeout,
    )


def _comparable(config: dict[str, Any]) -> Any:
    """A config as Caddy returns it: only the apps say what is routed."""
    return config.get("apps")
