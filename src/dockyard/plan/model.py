"""The values the planner works on: desired state, actual state, and the plan.

All three are plain, immutable data. ``desired`` is computed from specs with no
I/O, ``actual`` is what an engine observes through Dockyard's labels, and a
``Plan`` is the ordered list of steps between the two.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Labels Dockyard puts on every object it creates. The engine is the source of
# truth: everything the planner needs to know about what runs is read back from
# these.
LABEL_ENV = "dockyard.env"
LABEL_SERVICE = "dockyard.service"
LABEL_KIND = "dockyard.kind"  # service | accessory | task (a one-off)
LABEL_ROLE = "dockyard.role"  # main | sidecar | keeper | task | network | volume | secrets
LABEL_CONTAINER = "dockyard.container"  # container name within its task
LABEL_REPLICA = "dockyard.replica"
LABEL_TASK = "dockyard.task"  # id shared by a task's containers
LABEL_RELEASE = "dockyard.release"
LABEL_SPEC_HASH = "dockyard.spec-hash"
LABEL_WHEN = "dockyard.when"  # one-off tasks: before-deploy | after-deploy | manual
LABEL_DEFINITION = "dockyard.definition"  # canonical JSON of the TaskDef (no secret values)


class Value(BaseModel):
    """A part of a plan: immutable. Fields it does not know are ignored when read,
    so release records and definition labels a later Dockyard wrote still read
    here (and a rollback across the two versions works); code that builds a
    Value with a field it lacks is a type error (``init_forbid_extra``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


# --------------------------------------------------------------------- desired


class PortDef(Value):
    name: str
    port: int
    protocol: str = "tcp"
    publish: int | None = None
    host_ip: str = "127.0.0.1"
    metrics: str | None = None  # the path it serves Prometheus metrics at

    def canonical(self) -> dict[str, Any]:
        """As JSON data, without ``metrics`` while it is not set."""
        data = self.model_dump(mode="json")
        if data["metrics"] is None:
            del data["metrics"]
        return data


class HealthDef(Value):
    """A health check turned into the command the container runs (``test``), with
    what the spec said (``http`` path, ``tcp``, ``port``, ``command``) for plans
    to show. Definitions made before those fields were kept have none of them."""

    test: list[str]  # Docker form: ["CMD", ...] or ["CMD-SHELL", "..."]
    interval: float
    timeout: float
    retries: int
    start_period: float
    http: str | None = None
    tcp: bool = False
    port: int | None = None
    command: list[str] | None = None

    def canonical(self) -> dict[str, Any]:
        """As JSON data, without the spec's fields while they hold their default, and
        without a ``command`` that ``test`` already is: a command check hashes as it
        did before these fields were kept, so an upgrade leaves its task running."""
        data = self.model_dump(mode="json")
        if self.command is not None and self.test == ["CMD", *self.command]:
            data["command"] = None
        for key in ("http", "port", "command"):
            if data[key] is None:
                del data[key]
        if not data["tcp"]:
            del data["tcp"]
        return data


class MountDef(Value):
    target: str
    volume: str | None = None  # engine-level volume name
    tmpfs: bool = False
    read_only: bool = False
    shared: bool = False  # the spec says several tasks may write the volume at once
    source: str | None = None  # a path on the engine's host, bind-mounted (Dockyard's own)

    @property
    def exclusive(self) -> bool:
        """Whether no other task may write this volume while this mount is in use."""
        return self.volume is not None and not self.read_only and not self.shared

    def canonical(self) -> dict[str, Any]:
        """As JSON data, without the fields added later while they hold their default."""
        data = self.model_dump(mode="json")
        if data["source"] is None:
            del data["source"]
        if not data["shared"]:
            del data["shared"]
        return data


class SecretDef(Value):
    """A secret a container gets as ``/run/secrets/<name>``: which file holds it
    (``scope``: the service's own, or the environment's shared one) and its
    version, a hash of its ciphertext. Never its value."""

    name: str
    scope: str  # the service whose secrets file holds it, or "" for the environment's
    version: str
    uid: int | None = None  # None: the container's user
    gid: int | None = None
    mode: int = 0o400
    env: str | None = None  # also this environment variable (the spec asked for it)


class LogDef(Value):
    """The engine's log driver for a container, and its options."""

    driver: str
    options: dict[str, str] = Field(default_factory=dict)


class ContainerDef(Value):
    """One container of a task, fully resolved. ``log`` is None where the
    environment sets no ``logging:`` (the engine's default for Dockyard applies)."""

    name: str
    image: str
    sidecar: bool = False
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    workdir: str | None = None
    user: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    ports: list[PortDef] = Field(default_factory=list)
    health: HealthDef | None = None
    cpus: float | None = None
    memory: int | None = None
    mounts: list[MountDef] = Field(default_factory=list)
    stop_grace: float = 10.0
    sysctls: dict[str, str] = Field(default_factory=dict)  # namespaced kernel settings
    secrets: list[SecretDef] = Field(default_factory=list)
    log: LogDef | None = None

    def canonical(self) -> dict[str, Any]:
        """As JSON data, without the fields added later while they hold their default."""
        data = self.model_dump(mode="json")
        for key in ("sysctls", "secrets", "log"):
            if not data[key]:
                del data[key]
        data["mounts"] = [m.canonical() for m in self.mounts]
        data["ports"] = [p.canonical() for p in self.ports]
        if self.health is not None:
            data["health"] = self.health.canonical()
        return data

    def exclusive_volumes(self) -> list[str]:
        """The named volumes this container writes that no other task may write meanwhile."""
        return sorted({m.volume for m in self.mounts if m.exclusive and m.volume})


class TaskDef(Value):
    """What one replica runs: a main container and its sidecars (main first).

    ``aliases`` are the names the main container answers to on the environment
    network; None means the service's name. Replicas that only the ingress
    reaches have none (``[]``); the ingress holds the names of the services it
    stands in for.

    ``joins`` names a container of another task whose network namespace the
    main container shares instead of joining the environment network (the
    ingress's Caddy joins the container that holds its port and names); such a
    task has no aliases of its own and publishes nothing.
    """

    containers: list[ContainerDef]
    restart: str = "unless-stopped"
    aliases: list[str] | None = None
    joins: str | None = None
    host_network: bool = False  # the engine host's network namespace (Dockyard's own agent)

    @property
    def main(self) -> ContainerDef:
        return self.containers[0]

    def exclusive_volumes(self) -> list[str]:
        """The named volumes this task writes and no other task may write meanwhile."""
        return sorted({v for c in self.containers for v in c.exclusive_volumes()})

    def canonical(self) -> str:
        """The definition as stable JSON. Fields added later are left out while they
        hold their default, so definitions written before them keep their hash."""
        data = self.model_dump(mode="json")
        for key in ("aliases", "joins"):
            if data[key] is None:
                del data[key]
        if not data["host_network"]:
            del data["host_network"]
        data["containers"] = [c.canonical() for c in self.containers]
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def spec_hash(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:12]


class OneOffDef(Value):
    """A one-off task of a service, fully resolved: runs once in its own container."""

    service: str
    name: str  # the task's name in the spec (``run`` for an ad-hoc command)
    container: ContainerDef  # image, command, env, mounts, resources; no ports or health
    timeout: float = 300.0
    when: Literal["before-deploy", "after-deploy", "manual"] = "manual"
    rollback_on_failure: bool = True

    def definition_hash(self) -> str:
        """What makes two runs "the same task" apart from the image: command, env,
        mounts, resources, timeout."""
        data = self.container.canonical()
        for key in ("image", "name"):
            del data[key]
        data.pop("log", None)  # where its output goes does not make it another task
        data.setdefault("sysctls", {})  # as the hash was computed before it could be left out
        data["timeout"] = self.timeout
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class WatchDef(Value):
    """How a rollout watches its new replicas (``deploy.watch``): each must stay
    healthy ``seconds`` after it was ready, and — for a service behind the
    ingress — once it has answered ``min_requests`` requests, fail no more than
    ``max_error_rate`` of them (5xx answers and failed connections) beyond what
    the replicas it replaces failed, and answer within ``max_latency_p95``
    seconds (95th percentile; None: not checked) unless those were slower still.
    A number stands for ``seconds``."""

    seconds: float = 0.0
    max_error_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    min_requests: int = Field(default=20, ge=1)
    max_latency_p95: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="before")
    @classmethod
    def _number(cls, data: object) -> object:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"seconds": float(data)}
        return data


class ServiceDef(Value):
    """The desired state of one service or accessory."""

    name: str
    kind: Literal["service", "accessory"] = "service"
    task: TaskDef
    replicas: int = 1
    depends_on: list[str] = Field(default_factory=list)
    health_timeout: float = 60.0
    max_surge: int = 1
    max_unavailable: int = 0
    tasks: list[OneOffDef] = Field(default_factory=list)
    drain: float = 30.0  # seconds a retiring replica may take to finish its requests
    watch: WatchDef = Field(default_factory=WatchDef)
    rollback: Literal["auto", "manual"] = "auto"

    def task_named(self, name: str) -> OneOffDef | None:
        return next((t for t in self.tasks if t.name == name), None)


class PublicRoute(Value):
    """Public traffic for ``host`` (any host when None) under the path prefix
    ``path`` goes to ``port`` of ``service``. The path is not stripped."""

    service: str
    port: int
    host: str | None = None
    path: str = "/"

    @model_validator(mode="after")
    def _check(self) -> PublicRoute:
        if not self.path.startswith("/"):
            raise ValueError(f"a route's path must start with '/', not {self.path!r}")
        return self


class ProxyDef(Value):
    """A service the ingress stands in for: the ports it proxies, and the HTTP
    health check the ingress probes each replica with (when the service has one)."""

    service: str
    ports: list[int]
    health_path: str | None = None
    health_port: int | None = None
    health_interval: float = 1.0
    health_timeout: float = 1.0


class IngressDef(Value):
    """What the environment's ingress routes: proxied services and public routes.
    The ingress itself is the accessory named ``service``."""

    service: str = "ingress"
    proxied: list[ProxyDef] = Field(default_factory=list)
    routes: list[PublicRoute] = Field(default_factory=list)
    metrics_port: int | None = None  # where Caddy serves its metrics; None: it does not

    def proxy(self, service: str) -> ProxyDef | None:
        return next((p for p in self.proxied if p.service == service), None)


class DesiredState(Value):
    environment: str
    network: str
    volumes: list[str] = Field(default_factory=list)
    services: list[ServiceDef] = Field(default_factory=list)  # in deploy order
    labels: dict[str, str] = Field(default_factory=dict)  # extra labels on every object
    ingress: IngressDef | None = None  # None: services are reached by Docker DNS
    helper_image: str | None = None  # Dockyard's own small containers run it (secrets keepers)

    def service(self, name: str) -> ServiceDef:
        return next(s for s in self.services if s.name == name)


def network_name(environment: str) -> str:
    return f"dockyard-{environment}"


def volume_name(environment: str, volume: str) -> str:
    return f"dockyard-{environment}-{volume}"


def task_name(environment: str, service: str, replica: int, spec_hash: str) -> str:
    """Container name of a task's main container; sidecars append ``-<name>``."""
    return f"{environment}-{service}-{replica}-{spec_hash[:7]}"


# ---------------------------------------------------------------------- actual


Role = Literal["main", "sidecar", "keeper"]
"""A container's part in its task; a keeper holds the task's secrets in memory."""


class ActualContainer(Value):
    id: str
    name: str
    container: str  # name within the task
    role: Role
    # Docker's state: created | running | restarting | exited | dead | paused; or
    # Dockyard's own reading of a running container that does not run well:
    # crash-looping (restarted by its policy and not up 10 s since) or detached
    # (a sidecar left in its main's old network namespace).
    status: str
    health: str | None = None  # starting | healthy | unhealthy | None (no check)
    exit_code: int | None = None
    restarts: int | None = None  # restarts by the engine's policy, when inspected

    @property
    def live(self) -> bool:
        """Running, and neither failing its health check nor crash-looping."""
        return self.status == "running" and self.health != "unhealthy"

    @property
    def condition(self) -> str:
        """How it runs, in a few words: ``running``, ``unhealthy``, ``exited (exit 3)``."""
        if self.status == "running" and self.health == "unhealthy":
            return "unhealthy"
        if self.exit_code is not None and self.status != "running":
            return f"{self.status} (exit {self.exit_code})"
        return self.status


class ActualTask(Value):
    task: str  # the task id (main container's name)
    service: str
    kind: Literal["service", "accessory"] = "service"
    replica: int
    spec_hash: str
    release: str | None = None
    definition: TaskDef | None = None
    containers: list[ActualContainer] = Field(default_factory=list)

    @property
    def main(self) -> ActualContainer | None:
        return next((c for c in self.containers if c.role == "main"), None)

    @property
    def running(self) -> bool:
        return bool(self.containers) and all(c.status == "running" for c in self.containers)

    @property
    def healthy(self) -> bool:
        main = self.main
        return self.running and main is not None and main.health in (None, "healthy")

    def complete(self, definition: TaskDef) -> bool:
        """All containers of ``definition`` exist in this task."""
        names = {c.container for c in self.containers}
        return all(c.name in names for c in definition.containers)


class ActualState(Value):
    environment: str
    network: str | None = None  # name, when it exists
    volumes: list[str] = Field(default_factory=list)
    tasks: list[ActualTask] = Field(default_factory=list)

    def tasks_of(self, service: str) -> list[ActualTask]:
        return sorted(
            (t for t in self.tasks if t.service == service), key=lambda t: (t.replica, t.task)
        )


# ------------------------------------------------------------------------ plan

Action = Literal["create", "replace", "scale", "remove", "noop"]
Target = Literal["network", "volume", "service", "accessory", "routes"]


class FieldChange(Value):
    path: str
    old: Any = None
    new: Any = None


class Step(Value):
    """One change to one object. ``replicas`` is (before, after) for services."""

    action: Action
    target: Target
    name: str
    replicas: tuple[int, int] | None = None
    changes: list[FieldChange] = Field(default_factory=list)
    start: list[int] = Field(default_factory=list)  # replica indexes to start
    replace: list[str] = Field(default_factory=list)  # task ids replaced by new ones
    stop: list[str] = Field(default_factory=list)  # task ids removed, not replaced
    reason: str | None = None
    # How replacements roll: new replicas before old ones go (start-first), or
    # old ones first (stop-first), and why when it is not the service's choice.
    order: Literal["start-first", "stop-first"] | None = None
    order_reason: str | None = None


class TaskStep(Value):
    """A one-off task a release runs, or skips because it already succeeded."""

    service: str
    task: str
    when: Literal["before-deploy", "after-deploy"]
    command: list[str]
    image: str
    run: bool
    reason: str


class Plan(Value):
    environment: str
    steps: list[Step] = Field(default_factory=list)
    tasks: list[TaskStep] = Field(default_factory=list)

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action != "noop"]

    @property
    def tasks_to_run(self) -> list[TaskStep]:
        return [t for t in self.tasks if t.run]

    @property
    def empty(self) -> bool:
        return not self.changes and not self.tasks_to_run
