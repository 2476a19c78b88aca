"""The labels Dockyard puts on the Docker objects it creates.

The extra labels of a desired state (``DesiredState.labels``) go on every
object; Dockyard's own labels are written last so an extra label cannot
override them.
"""

from __future__ import annotations

from dockyard.plan.model import (
    LABEL_CONTAINER,
    LABEL_DEFINITION,
    LABEL_ENV,
    LABEL_KIND,
    LABEL_RELEASE,
    LABEL_REPLICA,
    LABEL_ROLE,
    LABEL_SERVICE,
    LABEL_SPEC_HASH,
    LABEL_TASK,
    LABEL_WHEN,
    ContainerDef,
    DesiredState,
    OneOffDef,
    ServiceDef,
)


def env_filter(environment: str) -> str:
    """The ``label`` filter value that selects an environment's objects."""
    return f"{LABEL_ENV}={environment}"


def task_filter(task: str) -> str:
    """The ``label`` filter value that selects a task's containers."""
    return f"{LABEL_TASK}={task}"


def network_labels(desired: DesiredState) -> dict[str, str]:
    return {**desired.labels, LABEL_ENV: desired.environment, LABEL_ROLE: "network"}


def volume_labels(desired: DesiredState) -> dict[str, str]:
    return {**desired.labels, LABEL_ENV: desired.environment, LABEL_ROLE: "volume"}


def container_labels(
    desired: DesiredState,
    service: ServiceDef,
    container: ContainerDef,
    *,
    replica: int,
    release: str,
    task: str,
) -> dict[str, str]:
    """Labels of one container of a task; ``task`` is the main container's name."""
    return {
        **desired.labels,
        LABEL_ENV: desired.environment,
        LABEL_SERVICE: service.name,
        LABEL_KIND: service.kind,
        LABEL_ROLE: "sidecar" if container.sidecar else "main",
        LABEL_CONTAINER: container.name,
        LABEL_REPLICA: str(replica),
        LABEL_TASK: task,
        LABEL_RELEASE: release,
        LABEL_SPEC_HASH: service.task.spec_hash(),
        LABEL_DEFINITION: service.task.canonical(),
    }


def oneoff_labels(desired: DesiredState, task: OneOffDef, release: str) -> dict[str, str]:
    """Labels of a one-off task's container. It carries no ``dockyard.task``, so
    ``observe`` never counts it as a replica of its service."""
    return {
        **desired.labels,
        LABEL_ENV: desired.environment,
        LABEL_SERVICE: task.service,
        LABEL_KIND: "task",
        LABEL_ROLE: "task",
        LABEL_CONTAINER: task.name,
        LABEL_RELEASE: release,
        LABEL_WHEN: task.when,
    }
