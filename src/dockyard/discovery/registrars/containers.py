"""The entries an environment's containers make, read from Docker's container list
(``GET /containers/json``): what the catalog agent publishes. Standard library only.

A task counts when every container of its definition runs and the main's health
check says healthy (or it has none); each port of its definition is one entry, at
the main container's address on the environment's network. Dockyard's own
accessories (the ingress, the supervisor, the agent) are not listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dockyard.discovery.registrars.base import Entry

OWN = frozenset({"ingress", "ingress-holder", "supervisor", "catalog-agent"})
"""Dockyard's own accessories, which the catalog leaves out."""

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")

Routes = Mapping[str, Mapping[str, Sequence[str]]]
"""Service -> port number (as text) -> the URLs of its routes."""


def healthy(status: str) -> bool:
    """A container list's ``Status`` of a running container whose check passes
    (``Up 3 seconds (healthy)``) or that has none (``Up 3 seconds``)."""
    found = _HEALTH.search(status)
    return status.startswith("Up") and (found is None or found.group(1) == "healthy")


def entries_of(
    containers: Iterable[Mapping[str, Any]], environment: str, routes: Routes | None = None
) -> list[Entry]:
    """The entries of the healthy tasks among ``containers`` (the environment's)."""
    tasks: dict[str, list[Mapping[str, Any]]] = {}
    for c in containers:
        labels = c.get("Labels") or {}
        if labels.get("dockyard.role") in ("main", "sidecar") and labels.get("dockyard.task"):
            tasks.setdefault(labels["dockyard.task"], []).append(c)
    found: list[Entry] = []
    for task, group in sorted(tasks.items()):
        found += _task_entries(task, group, environment, routes or {})
    return sorted(found, key=lambda e: (e.service, e.replica, e.port_name))


def _task_entries(
    task: str, group: list[Mapping[str, Any]], environment: str, routes: Routes
) -> list[Entry]:
    main = next((c for c in group if (c.get("Labels") or {}).get("dockyard.role") == "main"), None)
    if main is None or any(c.get("State") != "running" for c in group):
        return []
    labels = main.get("Labels") or {}
    service = labels.get("dockyard.service", "")
    if service in OWN or not healthy(str(main.get("Status") or "")):
        return []
    networks = (main.get("NetworkSettings") or {}).get("Networks") or {}
    address = (networks.get(f"dockyard-{environment}") or {}).get("IPAddress")
    try:
        definition = json.loads(labels.get("dockyard.definition") or "{}")
        replica = int(labels.get("dockyard.replica", "0"))
    except ValueError:
        return []
    if not address or not isinstance(definition, dict):
        return []
    present = {(c.get("Labels") or {}).get("dockyard.container") for c in group}
    if any(c.get("name") not in present for c in definition.get("containers") or []):
        return []  # a container of the task is missing (stopped: the list shows running ones)
    entries = []
    for container in definition.get("containers") or []:
        for port in container.get("ports") or []:
            number = int(port["port"])
            entries.append(
                Entry(
                    environment=environment,
                    service=service,
                    replica=replica,
                    port_name=str(port["name"]),
                    port=number,
                    address=str(address),
                    task=task,
                    routes=tuple(routes.get(service, {}).get(str(number), ())),
                    container=str(container.get("name") or ""),
                    metrics=port.get("metrics"),
                )
            )
    return entries
