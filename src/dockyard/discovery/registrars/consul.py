"""A Consul agent's HTTP API: each entry is a service instance with a TTL check.

``sync`` registers what is new or changed (``PUT /v1/agent/service/register``),
marks every instance's check passing (``PUT /v1/agent/check/pass/<check>``) and
deregisters the environment's instances that are gone
(``PUT /v1/agent/service/deregister/<id>``). When syncs stop, the checks go
critical after ``ttl`` and Consul removes the instances after
``deregister_after`` (at least one minute: Consul's own minimum).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from dockyard.discovery.registrars.base import Entry, RegistrarError

TIMEOUT = 2.0
META_ENV = "dockyard_env"
"""The instance's meta key that names its environment (how a sync finds its own)."""


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


class ConsulRegistrar:
    kind = "consul"

    def __init__(
        self,
        environment: str,
        endpoints: Sequence[str],
        *,
        ttl: float = 10.0,
        deregister_after: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not endpoints:
            raise RegistrarError("a consul registrar needs the agent's address")
        self.environment = environment
        self.endpoints = list(endpoints)
        self.ttl = ttl
        self.deregister_after = max(60.0, deregister_after)
        self.client = client or httpx.Client(timeout=TIMEOUT)

    def instance_id(self, entry: Entry) -> str:
        return f"dockyard-{self.environment}-{entry.service}-{entry.replica}-{entry.port_name}"

    def registration(self, entry: Entry) -> dict[str, Any]:
        """The body of ``/v1/agent/service/register`` for ``entry``."""
        ident = self.instance_id(entry)
        return {
            "ID": ident,
            "Name": entry.service,
            "Tags": ["dockyard", f"env={self.environment}", f"port={entry.port_name}"],
            "Address": entry.address,
            "Port": entry.port,
            "Meta": {
                META_ENV: self.environment,
                "dockyard_replica": str(entry.replica),
                "dockyard_task": entry.task,
                "dockyard_port": entry.port_name,
            },
            "Check": {
                "CheckID": f"{ident}:ttl",
                "Name": "Dockyard health",
                "TTL": _duration(self.ttl),
                "Status": "passing",
                "DeregisterCriticalServiceAfter": _duration(self.deregister_after),
            },
        }

    # -------------------------------------------------------------- interface

    def register(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self._call("PUT", "/v1/agent/service/register", self.registration(entry))

    def deregister(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self._call("PUT", f"/v1/agent/service/deregister/{self.instance_id(entry)}")

    def sync(self, entries: Sequence[Entry]) -> None:
        held = self.held()
        wanted = {self.instance_id(e): e for e in entries}
        for ident, entry in wanted.items():
            body = self.registration(entry)
            if _differs(held.get(ident), body):
                self._call("PUT", "/v1/agent/service/register", body)
            else:
                self._call("PUT", f"/v1/agent/check/pass/{ident}:ttl")
        for ident in held.keys() - wanted.keys():
            self._call("PUT", f"/v1/agent/service/deregister/{ident}")

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ reads

    def held(self) -> dict[str, dict[str, Any]]:
        """The environment's instances the agent has: id -> what it says of it."""
        answer = self._call("GET", "/v1/agent/services")
        return {
            ident: service
            for ident, service in (answer or {}).items()
            if isinstance(service, dict)
            and (service.get("Meta") or {}).get(META_ENV) == self.environment
        }

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        failures = []
        for endpoint in self.endpoints:
            try:
                response = self.client.request(
                    method, endpoint + path, content=json.dumps(body) if body else None
                )
            except httpx.HTTPError as e:
                failures.append(f"{endpoint}: {e}")
                continue
            if response.status_code != 200:
                raise RegistrarError(
                    f"consul refused {method} {path}: HTTP {response.status_code} "
                    f"{response.text[:200]}",
                    hint="check the agent's ACLs and that it runs the HTTP API",
                )
            return response.json() if response.content else None
        raise RegistrarError(
            f"no consul agent answered {method} {path}: {'; '.join(failures)}",
            hint="check discovery.registrars[].endpoints: the Consul agent's HTTP address",
        )


def _differs(held: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    if held is None:
        return True
    return bool(
        held.get("Address") != body["Address"]
        or held.get("Port") != body["Port"]
        or held.get("Meta") != body["Meta"]
    )
