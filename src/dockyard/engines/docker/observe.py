"""Reading tasks back from Docker's container list.

One ``GET /containers/json?all=1`` filtered by label carries everything
``observe`` needs: the labels Dockyard wrote, the state, and a status string
that holds the exit code (``Exited (3) 2 seconds ago``) and the health
(``Up 5 seconds (healthy)``).

Two things the list cannot tell, so ``observe`` inspects the containers where
they may apply (one inspect per container of such a task):

- A sidecar shares its main container's network namespace, and when the main
  restarts (its restart policy, a daemon restart) it gets a new namespace while
  the sidecars keep the old, empty one. They still "run", but cut off. Sidecars
  that started before their main's current start are reported ``detached``.
- A container that crashes and is restarted by its policy is "running" between
  two crashes. One that the policy restarted and that has not stayed up
  ``STABLE_AFTER`` seconds since is reported ``crash-looping``: Docker itself
  counts a container up that long as stable (it then resets its restart
  back-off).

Neither is a live state: the planner replaces such a task.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from dockyard.engines.access import ContainerDetails
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
    Role,
    TaskDef,
)

ContainerSummary = Mapping[str, Any]
"""One entry of Docker's container list, as the API returns it."""

DETACHED = "detached"
"""Status of a sidecar whose main container restarted after the sidecar started."""
CRASH_LOOPING = "crash-looping"
"""Status of a running container that its restart policy restarted less than
``STABLE_AFTER`` seconds ago."""
STABLE_AFTER = 10.0
"""Seconds a restarted container must stay up to count as running again."""

_UP = re.compile(r"^Up (?:Less than a second|(\d+) seconds?)\b")

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
    found = labels.get(LABEL_ROLE)
    role: Role = "sidecar" if found == "sidecar" else "keeper" if found == "keeper" else "main"
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


def recently_up(status: str) -> bool:
    """Whether a list status says the container has been up less than a minute."""
    return _UP.match(status) is not None


def needs_inspect(task: ActualTask, statuses: Mapping[str, str]) -> bool:
    """Whether the list leaves something open about ``task``: running sidecars that
    may have lost their main's namespace, or a container up only seconds that may
    be crash-looping, or one restarting (for its restart count). ``statuses`` maps
    container ids to their list status."""
    return any(
        c.status == "restarting"
        or (c.status == "running" and (c.role == "sidecar" or recently_up(statuses.get(c.id, ""))))
        for c in task.containers
    )


@dataclass(frozen=True)
class Inspected:
    """What ``observe`` reads from one container's inspect."""

    started: datetime | None
    restarts: int


def inspected(info: Mapping[str, Any]) -> Inspected:
    state = info.get("State") or {}
    return Inspected(started_at(state.get("StartedAt")), int(info.get("RestartCount") or 0))


def settle(task: ActualTask, details: Mapping[str, Inspected], now: datetime) -> ActualTask:
    """``task`` with what the inspects tell: restart counts, ``crash-looping``
    containers and ``detached`` sidecars (see the module's docstring)."""
    main = task.main
    main_started = details[main.id].started if main is not None and main.id in details else None
    containers = []
    for c in task.containers:
        detail = details.get(c.id)
        if detail is None:
            containers.append(c)
            continue
        update: dict[str, object] = {"restarts": detail.restarts}
        if c.status == "running":
            up = (now - detail.started).total_seconds() if detail.started else None
            if detail.restarts > 0 and up is not None and up < STABLE_AFTER:
                update["status"] = CRASH_LOOPING
            elif (
                c.role == "sidecar"
                and main_started is not None
                and detail.started is not None
                and detail.started < main_started
            ):
                update["status"] = DETACHED
        containers.append(c.model_copy(update=update))
    return task.model_copy(update={"containers": containers})


def details_of(info: Mapping[str, Any], digests: list[str]) -> ContainerDetails:
    """A container's inspect (and its image's registry ``digests``) as ``status`` shows it."""
    state = info.get("State") or {}
    checks = (state.get("Health") or {}).get("Log") or []
    output = str(checks[-1].get("Output") or "").strip() if checks else None
    return ContainerDetails(
        started=started_at(state.get("StartedAt")) if state.get("Running") else None,
        image_id=str(info.get("Image") or ""),
        image_digests=sorted(digests),
        restarts=int(info.get("RestartCount") or 0),
        health_output=output or None,
    )


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
