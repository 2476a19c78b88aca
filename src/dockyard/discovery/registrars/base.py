"""What every registrar is: the endpoints it publishes, and the interface."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dockyard.errors import DockyardError


class RegistrarError(DockyardError):
    """An external catalog refused a request, answered nonsense, or did not answer."""

    code = "DY330"


@dataclass(frozen=True)
class Entry:
    """One healthy endpoint as an external catalog holds it: a port of a replica,
    at its address on the environment's network, and how else it is reached."""

    environment: str
    service: str
    replica: int
    port_name: str
    port: int
    address: str
    task: str = ""
    routes: tuple[str, ...] = field(default_factory=tuple)
    container: str = ""  # the container of the task that declares the port
    metrics: str | None = None  # the path it serves Prometheus metrics at, if it does

    @property
    def key(self) -> str:
        """Where it lives under the environment: ``<service>/<replica>/<port name>``."""
        return f"{self.service}/{self.replica}/{self.port_name}"

    def value(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "service": self.service,
            "replica": self.replica,
            "task": self.task,
            "address": self.address,
            "port": self.port,
            "port_name": self.port_name,
            "routes": list(self.routes),
        }

    def encoded(self) -> str:
        """The value as stable JSON (what etcd holds)."""
        return json.dumps(self.value(), sort_keys=True, separators=(",", ":"))


class Registrar(Protocol):
    """An external catalog of one environment's endpoints.

    ``register`` adds or refreshes entries, ``deregister`` removes them, and ``sync``
    makes the catalog hold exactly ``entries`` for the environment (what is gone is
    removed) and renews what keeps them alive (a lease, a TTL check): called every
    interval, it is all the agent needs. Entries expire by themselves when syncs
    stop for longer than the registrar's TTL."""

    kind: str

    def register(self, entries: Sequence[Entry]) -> None: ...

    def deregister(self, entries: Sequence[Entry]) -> None: ...

    def sync(self, entries: Sequence[Entry]) -> None: ...

    def close(self) -> None: ...
