"""``status``: what runs in an environment, service by service and replica by
replica, against the replica counts the specs ask for.

Services, accessories, the ingress (its holder and its proxy) and the
supervisor are listed alike. Each replica names its containers, their state
and health, restarts, how long they have been up, the image they run (its
registry digest when it has one) and the release that started them. An engine
that cannot inspect a container (no ``Attaching``) leaves uptime and digests
out. Each service the ingress proxies has its request and error rates over the
last TRAFFIC_SECONDS, as the ingress saw them (``dockyard.discovery.rates``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from dockyard.discovery.rates import RatesReader
from dockyard.engines.access import Attaching, ContainerDetails
from dockyard.engines.base import Platform
from dockyard.errors import DockyardError
from dockyard.plan.desired import ingress_of
from dockyard.plan.discovery import AGENT_SERVICE, wants_agent
from dockyard.plan.ingress import HOLDER_SERVICE
from dockyard.plan.metrics import PROMETHEUS_SERVICE
from dockyard.plan.model import ActualContainer, ActualTask
from dockyard.plan.supervisor import SUPERVISOR_SERVICE
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.spec.models import Port

LAST_LINES = 5
"""Log lines ``status`` shows of a container that does not run well."""
TRAFFIC_SECONDS = 60.0
"""The window of the request and error rates ``status`` shows."""


@dataclass(frozen=True)
class Traffic:
    """What the ingress saw of one service over the last ``seconds``."""

    seconds: float
    requests: int
    request_rate: float  # requests per second
    error_rate: float  # the share that failed: 5xx answers and failed connections


@dataclass(frozen=True)
class ContainerStatus:
    name: str  # the engine's name of the container
    container: str  # its name within the task
    role: str  # main | sidecar | keeper
    state: str
    health: str | None
    restarts: int | None
    started: str | None = None  # when it last started (ISO 8601), while it runs
    uptime: float | None = None  # seconds since then
    image: str | None = None  # what the definition names (a digest reference or an image ID)
    image_id: str | None = None  # the image it runs
    digest: str | None = None  # that image's registry digest (sha256:...), when it has one
    check: str | None = None  # the last health check's output, when it is not healthy


@dataclass(frozen=True)
class TaskStatus:
    task: str
    replica: int
    state: str
    health: str | None
    release: str | None
    spec_hash: str
    restarts: int | None = None  # the most any of its containers was restarted
    problem: str | None = None  # what is wrong, when it does not run well
    last_lines: str | None = None  # the failing container's last log lines
    uptime: float | None = None  # seconds its main container has been up
    containers: list[ContainerStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    kind: str
    desired: int
    running: int
    healthy: int
    ports: list[str]
    tasks: list[TaskStatus] = field(default_factory=list)
    traffic: Traffic | None = None  # None: the ingress does not proxy it

    @property
    def ok(self) -> bool:
        return (
            self.healthy == self.desired
            and len(self.tasks) == self.desired
            and all(t.ok for t in self.tasks)
        )


@dataclass(frozen=True)
class EnvironmentStatus:
    environment: str
    engine: str
    network: str | None
    volumes: list[str]
    services: list[ServiceStatus]
    traffic_error: str | None = None  # why the rates could not be read


def status(
    engine: Platform, env: LoadedEnvironment, rates: RatesReader | None = None
) -> EnvironmentStatus:
    """What runs, service by service, against the replica counts the specs ask for.
    ``rates`` reads the ingress's figures (a new reader when None; one kept
    between looks reads only what is new)."""
    actual = engine.observe(env.name)
    wanted: dict[str, tuple[str, int, list[str]]] = {}
    for name, acc in env.spec.accessories.items():
        wanted[name] = ("accessory", 1, _published(acc.ports))
    ingress = ingress_of(env)
    config = env.spec.ingress
    public = f"http://{config.host_ip}:{config.port}" if ingress and config.port else None
    for svc in env.services:
        ports = [p for c in svc.spec.containers.values() for p in _published(c.ports)]
        if public is not None:
            ports += [_route_url(public, r.host, r.path) for r in svc.spec.routes]
        wanted[svc.name] = ("service", svc.spec.deploy.replicas, ports)
    if ingress is not None:
        wanted[HOLDER_SERVICE] = ("accessory", 1, [])
        wanted[ingress.service] = ("accessory", 1, [public] if public else [])
    wanted[SUPERVISOR_SERVICE] = ("accessory", 1, [])
    if wants_agent(env):
        wanted[AGENT_SERVICE] = ("accessory", 1, [])
    prometheus = env.spec.metrics.prometheus
    if prometheus is not None:
        published = [f"http://127.0.0.1:{prometheus.port}"] if prometheus.port else []
        wanted[PROMETHEUS_SERVICE] = ("accessory", 1, published)
    for t in actual.tasks:
        wanted.setdefault(t.service, (t.kind, 0, []))

    proxied = {p.service for p in ingress.proxied} if ingress is not None else set()
    traffic, traffic_error = _traffic(rates or RatesReader(engine, env.name), proxied)
    now = datetime.now(UTC)
    services = []
    for name, (kind, count, ports) in wanted.items():
        tasks = actual.tasks_of(name)
        services.append(
            ServiceStatus(
                name=name,
                kind=kind,
                desired=count,
                running=sum(1 for t in tasks if t.running),
                healthy=sum(1 for t in tasks if t.healthy),
                ports=ports,
                tasks=[_task_status(engine, t, now) for t in tasks],
                traffic=traffic.get(name),
            )
        )
    return EnvironmentStatus(
        environment=env.name,
        engine=engine.name,
        network=actual.network,
        volumes=actual.volumes,
        services=services,
        traffic_error=traffic_error,
    )


def _traffic(rates: RatesReader, proxied: set[str]) -> tuple[dict[str, Traffic], str | None]:
    """The rates of every proxied service (zero when it got no request), or none
    and why, when the ingress's figures cannot be read: status still shows the rest."""
    if not proxied:
        return {}, None
    try:
        found_rates = rates.service_rates(TRAFFIC_SECONDS)
    except DockyardError as e:
        return {}, e.message
    found = {}
    for name in proxied:
        r = found_rates.get(name)
        found[name] = (
            Traffic(r.seconds, r.requests, r.request_rate, r.error_rate)
            if r is not None
            else Traffic(TRAFFIC_SECONDS, 0, 0.0, 0.0)
        )
    return found, None


def _task_status(engine: Platform, t: ActualTask, now: datetime) -> TaskStatus:
    containers = [_container_status(engine, t, c, now) for c in t.containers]
    bad = next((c for c in t.containers if not c.live), None)
    counts = [c.restarts for c in containers if c.restarts is not None]
    problem = last = None
    if bad is not None:
        problem = f"{bad.container} {bad.condition}"
        check = next((c.check for c in containers if c.name == bad.name), None)
        if bad.health == "unhealthy" and check:
            problem += f": {check.splitlines()[-1]}"
        last = engine.logs(bad.id, tail=LAST_LINES).rstrip() or None
    main = next((c for c in containers if c.role == "main"), None)
    return TaskStatus(
        task=t.task,
        replica=t.replica,
        state=t.main.status if t.main else "missing",
        health=t.main.health if t.main else None,
        release=t.release,
        spec_hash=t.spec_hash,
        restarts=max(counts) if counts else None,
        problem=problem,
        last_lines=last,
        uptime=main.uptime if main else None,
        containers=containers,
    )


def _container_status(
    engine: Platform, t: ActualTask, c: ActualContainer, now: datetime
) -> ContainerStatus:
    details: ContainerDetails | None = None
    if isinstance(engine, Attaching):
        details = engine.details(c.id)
    defined = (
        next((d for d in t.definition.containers if d.name == c.container), None)
        if t.definition
        else None
    )
    started = details.started if details else None
    digest = None
    if details is not None and details.image_digests:
        digest = details.image_digests[0].rpartition("@")[2]
    return ContainerStatus(
        name=c.name,
        container=c.container,
        role=c.role,
        state=c.status,
        health=c.health,
        restarts=details.restarts if details else c.restarts,
        started=started.isoformat() if started else None,
        uptime=round(max((now - started).total_seconds(), 0.0), 1) if started else None,
        image=defined.image if defined else None,
        image_id=details.image_id if details else None,
        digest=digest,
        check=details.health_output if details and c.health not in (None, "healthy") else None,
    )


def _route_url(public: str, host: str | None, path: str) -> str:
    """Where a route answers: the ingress's address, and the host to ask for."""
    url = public + ("" if path == "/" else path)
    return url if host is None else f"{url} (Host: {host})"


def _published(ports: list[Port]) -> list[str]:
    return [f"http://{p.host_ip}:{p.publish}" for p in ports if p.publish]
