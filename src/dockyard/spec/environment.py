"""Models of the environment file, ``environments/<env>.yaml``: what the services
of one environment share (engine, registry, state store, accessories) and which
services it runs."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dockyard.spec.logconfig import LoggingConfig
from dockyard.spec.metrics import MetricsConfig
from dockyard.spec.models import (
    Container,
    ImageBuild,
    Model,
    Name,
    ParamName,
    ParamValue,
    RestartPolicy,
    invalid,
)
from dockyard.spec.units import Seconds


class Accessory(Container):
    """A long-lived helper of the environment (a database, a cache) with its own image."""

    build: ImageBuild | None = None
    depends_on: list[Name] = Field(default_factory=list)
    restart: RestartPolicy = "unless-stopped"

    @model_validator(mode="after")
    def _image_or_build(self) -> Accessory:
        if (self.image is None) == (self.build is None):
            raise invalid("an accessory needs exactly one of image or build")
        if self.sidecar:
            raise invalid("an accessory cannot be a sidecar", "sidecar")
        return self


class EngineConfig(Model):
    kind: Literal["docker"] = "docker"
    host: str | None = Field(
        default=None, description="unix://, tcp:// or ssh:// address; DOCKER_HOST when omitted."
    )


class RegistryConfig(Model):
    """Where the environment's images are shipped. Credentials never come from argv:
    the password is read from the environment variable ``password_env`` names; without
    one, the engine's own login (``~/.docker/config.json``) is used."""

    url: str = Field(
        pattern=r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$",
        description="host[:port][/namespace]; images are pushed as <url>/<project>/<service>.",
    )
    username: str | None = None
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable that holds the password.",
    )


class StateConfig(Model):
    """Where release history and deploy locks live."""

    url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL, e.g. postgresql://dockyard@db.internal/dockyard; "
            "default: sqlite:///<environment repo>/.dockyard/state.db"
        ),
    )
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable with the database password (kept out of the URL).",
    )


class LockConfig(Model):
    lease: Seconds = Field(
        default=30.0,
        gt=0,
        description="How long a lock outlives its holder if the holder dies without releasing.",
    )


class IngressConfig(Model):
    """The environment's ingress: one proxy container that serves the public routes
    and stands in for every service with proxied ports, so that callers reach
    healthy replicas only and rollouts drop no request (see docs/ingress.md)."""

    enabled: bool = Field(
        default=True,
        description="false: no ingress; services are reached by their replicas' names "
        "(Docker DNS), and rollouts of published services stop the old replica first.",
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Host port that serves the services' public routes; none when omitted.",
    )
    host_ip: str = Field(default="127.0.0.1", description="Host address the port binds to.")
    base_image: str = Field(
        default="debian:bookworm-slim",
        description="Debian-based image the ingress image is built FROM (it installs caddy).",
    )


RegistrarKind = Literal["etcd", "consul"]
CONSUL_AGENT = "http://127.0.0.1:8500"
_ONLY = {"prefix": "etcd", "deregister_after": "consul"}


class RegistrarConfig(Model):
    """An external catalog the environment's catalog agent keeps in sync: ``etcd``
    (v3, through its JSON gateway; keys under a lease) or ``consul`` (the agent
    HTTP API; a TTL check per instance). See docs/catalog.md."""

    kind: RegistrarKind
    endpoints: list[str] = Field(
        default_factory=list,
        description="Client URLs (http://host:port), tried in order; consul: the "
        f"agent's address, {CONSUL_AGENT} when omitted.",
    )
    prefix: str = Field(
        default="/dockyard",
        pattern=r"^/[A-Za-z0-9._/-]*$",
        description="etcd: keys are <prefix>/<environment>/<service>/<replica>/<port>.",
    )
    ttl: Seconds = Field(
        default=5.0,
        ge=2,
        le=3600,
        description="etcd: the lease's TTL; consul: the check's. Entries of a replica "
        "(or an agent) that is gone expire after it.",
    )
    deregister_after: Seconds = Field(
        default=60.0,
        ge=60,
        description="consul: the agent removes an instance whose check stayed critical "
        "this long (Consul's minimum is 1m).",
    )

    @field_validator("endpoints")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for i, url in enumerate(v):
            if not re.match(r"^https?://[A-Za-z0-9.\[\]:-]+(:[0-9]+)?/?$", url):
                raise invalid(f"{url!r} is not an http(s)://host[:port] address", i)
        return [u.rstrip("/") for u in v]

    @model_validator(mode="after")
    def _kind(self) -> RegistrarConfig:
        for key, kind in _ONLY.items():
            if key in self.model_fields_set and self.kind != kind:
                raise invalid(f"{key} is a setting of {kind} registrars", key)
        if not self.endpoints:
            if self.kind == "etcd":
                raise invalid("an etcd registrar needs endpoints (http://host:2379)")
            object.__setattr__(self, "endpoints", [CONSUL_AGENT])
        return self


class DiscoveryConfig(Model):
    """Who else learns the environment's healthy endpoints (see docs/catalog.md)."""

    registrars: list[RegistrarConfig] = Field(
        default_factory=list,
        description="External catalogs kept in sync by the environment's catalog agent.",
    )
    interval: Seconds = Field(
        default=1.0, gt=0, le=60, description="How often the agent looks at the engine."
    )


class ServiceRef(Model):
    name: Name
    source: str = Field(description="Path to the service repo, relative to this file.")
    spec: str = Field(default="dockyard.yaml", description="Spec file inside the source.")


class EnvironmentSpec(Model):
    """``environments/<env>.yaml``: what the services of one environment share."""

    environment: Name | None = None
    project: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$",
        description="Whose images these are: the path component after the registry "
        "(or dockyard/) in every image name; default: from the environment repo's "
        "folder (see docs/images.md).",
    )
    engine: EngineConfig = Field(default_factory=EngineConfig)
    protected: bool = Field(
        default=False, description="Refuse images built from dirty trees unless forced."
    )
    registry: RegistryConfig | None = None
    state: StateConfig = Field(default_factory=StateConfig)
    lock: LockConfig = Field(default_factory=LockConfig)
    params: dict[ParamName, ParamValue] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    accessories: dict[Name, Accessory] = Field(default_factory=dict)
    services: list[ServiceRef] = Field(default_factory=list)
    ingress: IngressConfig = Field(default_factory=IngressConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    logging: LoggingConfig | None = Field(
        default=None,
        description="The log driver of every container; json-file, 10 MB x 3, when omitted.",
    )
    metrics: MetricsConfig = Field(
        default_factory=MetricsConfig,
        description="A Prometheus that scrapes the services' metrics ports (docs/metrics.md).",
    )

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key.startswith("dockyard.") and not key.startswith("dockyard.test"):
                raise invalid(f"label {key!r}: the dockyard. prefix is reserved", key, "[key]")
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", key):
                raise invalid(f"label {key!r} is not a valid label key", key, "[key]")
        return v
