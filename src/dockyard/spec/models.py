"""Typed models of the three kinds of spec file.

* the service spec, ``dockyard.yaml`` in a service repo;
* the per-environment parameters, ``params/<env>.yaml`` beside it;
* the environment file, ``environments/<env>.yaml`` in the environment repo.

The models describe files *after* ``${name}`` interpolation; loading (with
locations for every error) lives in :mod:`dockyard.spec.loader`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from dockyard.spec.units import parse_bytes, parse_duration

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,40}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Model(BaseModel):
    """Base of every spec model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 1s, 500ms or 5m")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("expected a duration such as 1s, 500ms or 5m")


Seconds = Annotated[float, BeforeValidator(_duration)]
"""Seconds, written in a spec as ``500ms``, ``1s``, ``5m``, ``1h`` or a number."""


class ParamDecl(Model):
    """A declared parameter: its type and, optionally, a default."""

    type: Literal["str", "int", "float", "bool"] = "str"
    default: str | int | float | bool | None = None
    description: str | None = None


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
            raise ValueError("a health check needs exactly one of http, tcp or command")
        if (self.http is not None or self.tcp) and self.port is None:
            raise ValueError("http and tcp health checks need a port (name or number)")
        return self


class Resources(Model):
    cpus: float | None = Field(default=None, gt=0)
    memory: int | None = Field(default=None, description="Bytes, or 256m, 1g ...")

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, v: object) -> object:
        if isinstance(v, str):
            return parse_bytes(v)
        return v


class VolumeMount(Model):
    """A named volume (owned by the environment) or a tmpfs mounted into a container."""

    name: Name | None = None
    target: str
    tmpfs: bool = False
    read_only: bool = False

    @model_validator(mode="after")
    def _named_or_tmpfs(self) -> VolumeMount:
        if (self.name is None) == (not self.tmpfs):
            raise ValueError("a volume needs either a name or tmpfs: true")
        if not self.target.startswith("/"):
            raise ValueError("a volume target must be an absolute path")
        return self


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
    env: dict[str, str] = Field(default_factory=dict)
    ports: list[Port] = Field(default_factory=list)
    health: Health | None = None
    resources: Resources | None = None
    volumes: list[VolumeMount] = Field(default_factory=list)
    stop_grace: Seconds = 10.0

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, v: object) -> object:
        if isinstance(v, dict):
            return {k: _scalar_str(x) for k, x in v.items()}
        return v


def _scalar_str(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class ImageBuild(Model):
    build: str = Field(default=".", description="Build context, relative to the spec file.")
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = Field(default_factory=dict)
    target: str | None = None

    @field_validator("args", mode="before")
    @classmethod
    def _arg_strings(cls, v: object) -> object:
        if isinstance(v, dict):
            return {k: _scalar_str(x) for k, x in v.items()}
        return v


class Deploy(Model):
    replicas: int = Field(default=1, ge=0, le=100)
    restart: RestartPolicy = "unless-stopped"
    max_surge: int = Field(default=1, ge=0)
    max_unavailable: int = Field(default=0, ge=0)
    health_timeout: Seconds = 60.0


class ServiceSpec(Model):
    """``dockyard.yaml``: one service, its image, its task and how it deploys."""

    service: Name
    image: ImageBuild | None = None
    params: dict[str, ParamDecl] = Field(default_factory=dict)
    containers: dict[Name, Container]
    depends_on: list[Name] = Field(default_factory=list)
    deploy: Deploy = Field(default_factory=Deploy)

    @model_validator(mode="after")
    def _one_main(self) -> ServiceSpec:
        mains = [n for n, c in self.containers.items() if not c.sidecar]
        if len(mains) != 1:
            raise ValueError(
                f"a service has exactly one main container (sidecar: false), found {len(mains)}"
            )
        for name, c in self.containers.items():
            if c.image is None and self.image is None:
                raise ValueError(f"container {name!r} has no image and the service builds none")
            if c.sidecar and c.ports and any(p.publish for p in c.ports):
                raise ValueError(f"sidecar {name!r} cannot publish ports; publish on the main")
        return self

    @property
    def main(self) -> str:
        return next(n for n, c in self.containers.items() if not c.sidecar)


class Accessory(Container):
    """A long-lived helper of the environment (a database, a cache) with its own image."""

    build: ImageBuild | None = None
    depends_on: list[Name] = Field(default_factory=list)
    restart: RestartPolicy = "unless-stopped"

    @model_validator(mode="after")
    def _image_or_build(self) -> Accessory:
        if (self.image is None) == (self.build is None):
            raise ValueError("an accessory needs exactly one of image or build")
        if self.sidecar:
            raise ValueError("an accessory cannot be a sidecar")
        return self


class EngineConfig(Model):
    kind: Literal["docker"] = "docker"
    host: str | None = Field(
        default=None, description="unix://, tcp:// or ssh:// address; DOCKER_HOST when omitted."
    )


class ServiceRef(Model):
    name: Name
    source: str = Field(description="Path to the service repo, relative to this file.")
    spec: str = Field(default="dockyard.yaml", description="Spec file inside the source.")


class EnvironmentSpec(Model):
    """``environments/<env>.yaml``: what the services of one environment share."""

    environment: Name | None = None
    engine: EngineConfig = Field(default_factory=EngineConfig)
    protected: bool = False
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    accessories: dict[Name, Accessory] = Field(default_factory=dict)
    services: list[ServiceRef] = Field(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key.startswith("dockyard.") and not key.startswith("dockyard.test"):
                raise ValueError(f"label {key!r}: the dockyard. prefix is reserved")
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", key):
                raise ValueError(f"label {key!r} is not a valid label key")
        return v


SPEC_FILES: dict[str, type[Model]] = {
    "service": ServiceSpec,
    "environment": EnvironmentSpec,
}


def spec_dir(path: Path) -> Path:
    """The folder a spec's relative paths are resolved against."""
    return path.parent
