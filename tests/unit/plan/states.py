"""Desired and actual state as the planning tests write them: a service's one-off
tasks, and tasks that run a service's definition in a state the test gives."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from dockyard.plan.discovery import AGENT_SERVICE
from dockyard.plan.metrics import PROMETHEUS_SERVICE
from dockyard.plan.model import (
    ActualContainer,
    ActualTask,
    ContainerDef,
    OneOffDef,
    ServiceDef,
    task_name,
)

VALID = Path(__file__).resolve().parents[1] / "spec" / "cases" / "valid"
"""The valid spec case: an environment of db, api and worker, with an ingress."""
IMAGES = {
    "db": "sha256:db",
    "api": "sha256:api",
    "worker": "sha256:worker",
    "ingress": "dockyard/ingress:test",
    "supervisor": "dockyard/supervisor:test",
    AGENT_SERVICE: "dockyard/catalog-agent:test",
    PROMETHEUS_SERVICE: "dockyard/prometheus:test",
}
"""The images of the valid case's services and of Dockyard's own parts, as built."""


def release_tasks(service: str, main: ContainerDef, migrate: str = "migrate") -> list[OneOffDef]:
    """A migration (before-deploy), a smoke test (after-deploy) and a seed (manual)
    that run in containers like ``main``."""
    return [
        OneOffDef(
            service=service,
            name="migrate",
            container=main.model_copy(update={"name": "migrate", "command": [migrate]}),
            when="before-deploy",
        ),
        OneOffDef(
            service=service,
            name="smoke",
            container=main.model_copy(update={"name": "smoke", "command": ["smoke"]}),
            when="after-deploy",
        ),
        OneOffDef(service=service, name="seed", container=main, when="manual"),
    ]


def running(
    service: ServiceDef,
    replica: int = 1,
    status: str = "running",
    *,
    environment: str = "t",
    health: str | None = None,
    missing: Collection[str] = (),
    main_id: str | None = None,
    release: str | None = None,
) -> ActualTask:
    """Replica ``replica`` of ``service`` as the engine reports it: every container
    of its definition but the ``missing`` ones, each ``status`` (and ``health``)."""
    spec_hash = service.task.spec_hash()
    name = task_name(environment, service.name, replica, spec_hash)
    containers = [
        ActualContainer(
            id=main_id if main_id is not None and not c.sidecar else f"id-{name}-{c.name}",
            name=name,
            container=c.name,
            role="sidecar" if c.sidecar else "main",
            status=status,
            health=health,
        )
        for c in service.task.containers
        if c.name not in missing
    ]
    return ActualTask(
        task=name,
        service=service.name,
        kind=service.kind,
        replica=replica,
        spec_hash=spec_hash,
        release=release,
        definition=service.task,
        containers=containers,
    )
