"""Typed models of the three kinds of spec file.

* the service spec, ``dockyard.yaml`` in a service repo;
* the per-environment parameters, ``params/<env>.yaml`` beside it;
* the environment file, ``environments/<env>.yaml`` in the environment repo.

The models describe files *after* ``${name}`` interpolation; loading (with
locations for every error) lives in :mod:`dockyard.spec.loader`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from dockyard.spec.units import Bytes, Seconds, StrMap
from dockyard.spec.watch import Watch, WatchField

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,40}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]

PARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ParamName = Annotated[str, Field(pattern=PARAM_NAME_PATTERN)]
"""A parameter name, as referenced by ``${name}``."""

ParamValue = str | int | float | bool


def invalid(message: str, *at: str | int) -> PydanticCustomError:
    """A validation error for a model validator to raise.

    ``at`` is the path, relative to the model being validated, of the value at
    fault, so that the loader can point at it rather than at the whole model.
    The path element ``"[key]"`` points at the key of the mapping entry before it.
    """
    return PydanticCustomError("dockyard", message, {"at": at})


class Model(BaseModel):
    """Base of every spec model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ParamType = Literal["str", "int", "float", "bool"]
_PARAM_TYPES: dict[type, ParamType] = {bool: "bool", int: "int", float: "float", str: "str"}


def param_type_of(value: object) -> ParamType | None:
    """The declared type a value satisfies: ``int`` for 3, ``bool`` for true."""
    return _PARAM_TYPES.get(type(value))


def check_param(value: object, declared: ParamType) -> ParamValue | None:
    """``value`` as a value of the declared type, or None when it is not one.

    Only an integer is accepted for a float (and becomes a float); nothing else
    is converted: ``"3"`` is not an int and ``1`` is not a bool.
    """
    actual = param_type_of(value)
    if actual == declared and isinstance(value, str | int | float | bool):
        return value
    if declared == "float" and actual == "int" and isinstance(value, int):
        return float(value)
    return None


class ParamDecl(Model):
    """A declared parameter: its type and, optionally, a default.

    ``type`` defaults to the type of ``default`` when only a default is given,
    and to ``str`` when neither is.
    """

    type: ParamType = "str"
    default: ParamValue | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data: object) -> object:
        if isinstance(data, dict):
            default = data.get("default")
            declared = data.get("type", param_type_of(default))
            if declared is not None:
                data = {**data, "type": declared}
            if declared == "float" and isinstance(default, int) and not isinstance(default, bool):
                data = {**data, "default": float(default)}
        return data

    @model_validator(mode="after")
    def _default_type(self) -> ParamDecl:
        if self.default is not None and check_param(self.default, self.type) is None:
            raise invalid(
                f"the default {self.default!r} does not have the declared type {self.type}",
                "default",
            )
        return self


class Port(Model):
    name: Name
    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    publish: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Host port on 127.0.0.1 (or `host_ip`) that forwards to this port.",
    )
    host_ip: str = "127.0.0.1"
    proxy: bool = Field(
        default=True,
        description="Reach this port through the environment's ingress (HTTP): callers "
        "that use the service's name, and public routes, get healthy replicas only. "
        "false: callers connect to the replicas directly (for protocols other than HTTP).",
    )
    metrics: bool | str = Field(
        default=False,
        description="This port serves Prometheus metrics: true (at /metrics) or the "
        "path. The environment's Prometheus scrapes it on every healthy replica.",
    )

    @model_validator(mode="after")
    def _metrics_path(self) -> Port:
        if isinstance(self.metrics, str) and not re.match(r"^/[A-Za-z0-9._~/-]*$", self.metrics):
            raise invalid(f"metrics: {self.metrics!r} is not a path such as /metrics", "metrics")
        return self

    @property
    def metrics_path(self) -> str | None:
        """Where it serves metrics, or None when it does not."""
        if self.metrics is True:
            return "/metrics"
        return self.metrics or None


class Route(Model):
    """Public traffic for ``host`` (any host when omitted) under the path prefix
    ``path`` goes to ``port`` of the service, through the environment's ingress."""

    host: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9*]([A-Za-z0-9.*-]*[A-Za-z0-9])?$",
        description="Host name to match, e.g. shop.example.com; any host when omitted.",
    )
    path: str = Field(
        default="/",
        pattern=r"^/[^\s*?]*$",
        description="Path prefix on segment boundaries (/api matches /api and /api/x, not /apis).",
    )
    port: str | int | None = Field(
        default=None,
        description="Port name or number of the main container; its first port when omitted.",
    )


class Health(Model):
    """A health check. Exactly one of ``http``, ``tcp`` or ``command``."""

    http: str | None = Field(default=None, description="Path probed with HTTP GET, e.g. /healthz")
    tcp: bool = False
    command: list[str] | None = None
    port: str | int | None = Field(
        default=None, description="Port name or number for http/tcp checks."
    )
    interval: Seconds = 2.0
    timeout: Seconds = 2.0
    retries: int = Field(default=3, ge=1)
    start_period: Seconds = 0.0

    @model_validator(mode="after")
    def _one_kind(self) -> Health:
        kinds = [k for k in ("http", "command") if getattr(self, k) is not None]
        if self.tcp:
            kinds.append("tcp")
        if len(kinds) != 1:
            raise invalid("a health check needs exactly one of http, tcp or command")
        if (self.http is not None or self.tcp) and self.port is None:
            raise invalid("http and tcp health checks need a port (name or number)")
        return self


class Resources(Model):
    cpus: float | None = Field(default=None, gt=0)
    memory: Bytes | None = Field(default=None, description="Bytes, or 256m, 1g ...")


class VolumeMount(Model):
    """A named volume (owned by the environment) or a tmpfs mounted into a container."""

    name: Name | None = None
    target: str
    tmpfs: bool = False
    read_only: bool = False
    shared: bool = Field(
        default=False,
        description="Several tasks may write this volume at once (the program that "
        "writes it locks its own files across containers). Without it, a task that "
        "writes a named volume never runs next to another one that does: replacements "
        "are stop-first.",
    )

    @model_validator(mode="after")
    def _named_or_tmpfs(self) -> VolumeMount:
        if (self.name is None) == (not self.tmpfs):
            raise invalid("a volume needs either a name or tmpfs: true")
        if not self.target.startswith("/"):
            raise invalid("a volume target must be an absolute path", "target")
        if self.shared and self.tmpfs:
            raise invalid("a tmpfs belongs to one container; it cannot be shared", "shared")
        return self


SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
SECRETS_FOLDER = "/run/secrets"
"""Where a container finds its secrets, one file per name."""


class SecretUse(Model):
    """A secret a container gets: the file ``/run/secrets/<name>``, in memory.

    It is owned by the container's user (``uid``/``gid`` say otherwise, e.g. for
    an image that starts as root and reads the file as another user) with the
    mode ``mode`` (0400: only its owner reads it)."""

    name: Annotated[str, Field(pattern=SECRET_NAME_PATTERN)]
    uid: int | None = Field(default=None, ge=0, le=2**31 - 1)
    gid: int | None = Field(default=None, ge=0, le=2**31 - 1)
    mode: int = Field(default=0o400, ge=0, le=0o777, description='Octal, as a string: "0440".')
    env: EnvName | None = Field(
        default=None,
        description="Also set this environment variable to the value. It then shows in "
        "`docker inspect` and in every process's environment: only for programs that "
        "cannot read a file.",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: object) -> object:
        if isinstance(data, str):
            return {"name": data}
        if isinstance(data, dict) and isinstance(data.get("mode"), str):
            text = data["mode"].removeprefix("0o")
            if not re.fullmatch(r"[0-7]{3,4}", text):
                raise invalid(f'mode {data["mode"]!r} is not an octal mode like "0440"', "mode")
            data = {**data, "mode": int(text, 8)}
        return data


RestartPolicy = Literal["no", "always", "unless-stopped", "on-failure"]


class Container(Model):
    """One container of a task. Sidecars share the main container's network namespace."""

    image: str | None = Field(
        default=None, description="Image reference; the service's built image when omitted."
    )
    sidecar: bool = False
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    workdir: str | None = None
    user: str | None = None
    env: StrMap = Field(default_factory=dict)
    ports: list[Port] = Field(default_factory=list)
    health: Health | None = None
    resources: Resources | None = None
    volumes: list[VolumeMount] = Field(default_factory=list)
    secrets: list[SecretUse] = Field(
        default_factory=list,
        description="Secrets the container gets as files under /run/secrets, from the "
        "service's secrets file for the environment or the environment's shared one.",
    )
    stop_grace: Seconds = 10.0

    @model_validator(mode="after")
    def _secrets_once(self) -> Container:
        seen: set[str] = set()
        for i, use in enumerate(self.secrets):
            if use.name in seen:
                raise invalid(f"secret {use.name!r} is listed twice", "secrets", i)
            seen.add(use.name)
        for i, v in enumerate(self.volumes):
            if v.target.rstrip("/") == SECRETS_FOLDER and self.secrets:
                raise invalid(
                    f"{SECRETS_FOLDER} holds the container's secrets; mount elsewhere",
                    "volumes",
                    i,
                    "target",
                )
        return self


class ImageBuild(Model):
    build: str = Field(default=".", description="Build context, relative to the spec file.")
    dockerfile: str = "Dockerfile"
    args: StrMap = Field(default_factory=dict)
    target: str | None = None


class Deploy(Model):
    replicas: int = Field(default=1, ge=0, le=100)
    restart: RestartPolicy = "unless-stopped"
    max_surge: int = Field(default=1, ge=0)
    max_unavailable: int = Field(default=0, ge=0)
    health_timeout: Seconds = Field(
        default=60.0, description="How long a new replica may take to become healthy."
    )
    drain: Seconds = Field(
        default=30.0,
        ge=0,
        description="How long a replica taken out of rotation may take to finish the "
        "requests it is answering before it is stopped.",
    )
    watch: WatchField = Field(
        default_factory=Watch,
        description="How long a new replica must stay healthy after it became healthy "
        "before the rollout counts as done (seconds), or a mapping that also says "
        "which error rate and latency make it fail (see docs/watch.md).",
    )

    rollback: Literal["auto", "manual"] = Field(
        default="auto",
        description="auto: a failed rollout puts the replaced replicas back; manual: it "
        "stops where it failed.",
    )


TaskWhen = Literal["before-deploy", "after-deploy", "manual"]


class TaskSpec(Model):
    """A one-off task of the service: a migration, a smoke test, a seed.

    It runs in a container of its own with the release's image of ``container``
    (the main container by default), that container's env and volumes plus the
    overrides here, on the environment's network.
    """

    command: list[str] = Field(min_length=1)
    run: TaskWhen = Field(
        default="manual",
        description="before-deploy: once per release, before any replica changes; "
        "after-deploy: once the rollout is done; manual: only with `dockyard run`.",
    )
    timeout: Seconds = Field(default=300.0, gt=0)
    container: Name | None = Field(
        default=None, description="Whose image, env and volumes to use (default: the main)."
    )
    env: StrMap = Field(default_factory=dict)
    secrets: list[SecretUse] = Field(
        default_factory=list,
        description="Secrets the task gets besides those of its container.",
    )
    resources: Resources | None = None
    rollback_on_failure: bool = Field(
        default=True,
        description="after-deploy only: roll the release back when the task fails.",
    )


class ServiceSpec(Model):
    """``dockyard.yaml``: one service, its image, its task and how it deploys."""

    service: Name
    image: ImageBuild | None = None
    params: dict[ParamName, ParamDecl] = Field(default_factory=dict)
    containers: dict[Name, Container]
    depends_on: list[Name] = Field(default_factory=list)
    deploy: Deploy = Field(default_factory=Deploy)
    tasks: dict[Name, TaskSpec] = Field(default_factory=dict)
    routes: list[Route] = Field(
        default_factory=list,
        description="Public routes to this service through the environment's ingress.",
    )

    @model_validator(mode="after")
    def _one_main(self) -> ServiceSpec:
        mains = [n for n, c in self.containers.items() if not c.sidecar]
        if len(mains) != 1:
            raise invalid(
                f"a service has exactly one main container (sidecar: false), found {len(mains)}",
                "containers",
            )
        return self

    @model_validator(mode="after")
    def _every_container_has_an_image(self) -> ServiceSpec:
        for name, c in self.containers.items():
            if c.image is None and self.image is None:
                raise invalid(
                    f"container {name!r} has no image and the service builds none",
                    "containers",
                    name,
                )
        return self

    @model_validator(mode="after")
    def _sidecars_publish_nothing(self) -> ServiceSpec:
        for name, c in self.containers.items():
            for i, p in enumerate(c.ports):
                if c.sidecar and p.publish:
                    raise invalid(
                        f"sidecar {name!r} cannot publish ports; publish on the main",
                        *("containers", name, "ports", i, "publish"),
                    )
        return self

    @model_validator(mode="after")
    def _routes_reach_a_proxied_port(self) -> ServiceSpec:
        main = self.containers[self.main]
        ports = {p.name: p for p in main.ports} | {str(p.port): p for p in main.ports}
        for i, route in enumerate(self.routes):
            port = (
                route.port
                if route.port is not None
                else (main.ports[0].port if main.ports else None)
            )
            found = ports.get(str(port)) if port is not None else None
            if found is None or not found.proxy or found.protocol != "tcp":
                raise invalid(
                    f"route {route.host or '*'}{route.path} needs a proxied TCP port of the "
                    f"main container {self.main!r}; it has "
                    f"{', '.join(p.name for p in main.ports if p.proxy) or 'none'}",
                    "routes",
                    i,
                )
        return self

    @model_validator(mode="after")
    def _tasks_name_a_container(self) -> ServiceSpec:
        for name, t in self.tasks.items():
            if t.container is not None and t.container not in self.containers:
                raise invalid(
                    f"task {name!r} names container {t.container!r}, which the service "
                    f"does not have (it has {', '.join(self.containers)})",
                    *("tasks", name, "container"),
                )
        return self

    @property
    def main(self) -> str:
        return next(n for n, c in self.containers.items() if not c.sidecar)
