"""Reading tasks back from Docker's container list.

One ``GET /containers/json?all=1`` filtered by label carries everything
``observe`` needs: the labels Dockyard wrote, the state, and a status string
that holds the exit code (``Exited (3) 2 seconds ago``) and the health
(``Up 5 seconds (healthy)``).

One thing the list cannot tell: a sidecar shares its main container's network
namespace, and when the main restarts (its restart policy, a daemon restart)
it gets a new namespace while the sidecars keep the old, empty one. They still
"run", but cut off. For tasks with sidecars, ``observe`` compares start times
(one inspect per container) and reports such sidecars as ``detached``, which
is not a live state: the task is replaced on the next deploy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from dockyard.plan.model import (
    LABEL_CONTAINER,
    LABEL_DEFINITION,
    LABEL_KIND,
    LABEL_RELEASE,
    LABEL_REPLICA,
    LABEL_ROLE,
    LABEL_SERVICE,
    LABEL_SPEC_HASH,
    LABEL_TASK,
    ActualContainer,
    ActualTask,
    TaskDef,
)

ContainerSummary = Mapping[str, Any]
"""One entry of Docker's container list, as the API returns it."""

DETACHED = "detached"
"""Status of a sidecar whose main container restarted after the sidecar started."""

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXIT = re.compile(r"^(?:Exited|Restarting) \((-?\d+)\)")


def health_of(status: str) -> str | None:
    """``starting`` / ``healthy`` / ``unhealthy`` from a list status; None without a check."""
    found = _HEALTH.search(status)
    if not found:
        return None
    value = found.group(1)
    return "starting" if value == "health: starting" else value


def exit_code_of(status: str) -> int | None:
    found = _EXIT.match(status)
    return int(found.group(1)) if found else None


def container_of(summary: ContainerSummary) -> ActualContainer:
    labels: Mapping[str, str] = summary.get("Labels") or {}
    names: list[str] = summary.get("Names") or []
    name = names[0].lstrip("/") if names else summary["Id"][:12]
    status_text = str(summary.get("Status") or "")
    role: Literal["main", "sidecar"] = "sidecar" if labels.get(LABEL_ROLE) == "sidecar" else "main"
    return ActualContainer(
        id=summary["Id"],
        name=name,
        container=labels.get(LABEL_CONTAINER, name),
        role=role,
        status=str(summary.get("State") or "unknown"),
        health=health_of(status_text),
        exit_code=exit_code_of(status_text),
    )


def definition_of(label: str | None) -> TaskDef | None:
    """The TaskDef a container was created from; None when the label is missing or bad."""
    if not label:
        return None
    try:
        return TaskDef.model_validate_json(label)
    except (ValidationError, ValueError):
        return None


def tasks_of(summaries: Iterable[ContainerSummary]) -> list[ActualTask]:
    """Group containers into tasks by their task label; containers without one are skipped."""
    groups: dict[str, list[ContainerSummary]] = {}
    for summary in summaries:
        labels = summary.get("Labels") or {}
        task = labels.get(LABEL_TASK)
        if task and labels.get(LABEL_SERVICE):
            groups.setdefault(task, []).append(summary)
    return [_task(task, group) for task, group in sorted(groups.items())]


def _task(task: str, group: list[ContainerSummary]) -> ActualTask:
    containers = [container_of(s) for s in group]
    # Labels are the same on every container of a task; prefer the main's.
    first = next((s for s, c in zip(group, containers, strict=True) if c.role == "main"), group[0])
    labels: Mapping[str, str] = first.get("Labels") or {}
    definition = definition_of(labels.get(LABEL_DEFINITION))
    order = [c.name for c in definition.containers] if definition else []
    containers.sort(
        key=lambda c: (
            c.role != "main",
            order.index(c.container) if c.container in order else len(order),
            c.name,
        )
    )
    kind: Literal["service", "accessory"] = (
        "accessory" if labels.get(LABEL_KIND) == "accessory" else "service"
    )
    return ActualTask(
        task=task,
        service=labels[LABEL_SERVICE],
        kind=kind,
        replica=_int(labels.get(LABEL_REPLICA)),
        spec_hash=labels.get(LABEL_SPEC_HASH, ""),
        release=labels.get(LABEL_RELEASE),
        definition=definition,
        containers=containers,
    )


def needs_start_times(task: ActualTask) -> bool:
    """Whether ``task`` has running sidecars that may have lost their main's namespace."""
    return any(c.role == "sidecar" and c.status == "running" for c in task.containers)


def mark_detached(task: ActualTask, started: Mapping[str, datetime]) -> ActualTask:
    """``task`` with sidecars that started before their main's current start as ``detached``.

    ``started`` maps container ids to their ``State.StartedAt``.
    """
    main = task.main
    if main is None or main.id not in started:
        return task
    main_started = started[main.id]
    containers = [
        c.model_copy(update={"status": DETACHED})
        if c.role == "sidecar"
        and c.status == "running"
        and c.id in started
        and started[c.id] < main_started
        else c
        for c in task.containers
    ]
    return task.model_copy(update={"containers": containers})


def started_at(text: str | None) -> datetime | None:
    """Docker's ``State.StartedAt`` (RFC 3339, nanoseconds) as a datetime."""
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
