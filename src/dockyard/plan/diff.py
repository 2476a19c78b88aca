"""Desired vs actual state → an ordered plan. Pure: no I/O.

For every service the planner fills replica slots ``1..replicas``. A slot is
kept when a task there runs the desired definition (same spec hash, every
container present and running), replaced when a task there is stale, and
started when it is empty; tasks above the desired count are stopped. Two tasks
in one slot (left by an interrupted deploy) keep the good one.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Literal

from dockyard.plan.model import (
    Action,
    ActualState,
    ActualTask,
    DesiredState,
    FieldChange,
    HealthDef,
    Plan,
    ServiceDef,
    Step,
    TaskDef,
    task_name,
)


def plan(desired: DesiredState, actual: ActualState, only: Collection[str] | None = None) -> Plan:
    """The steps from ``actual`` to ``desired``. With ``only``, services outside it
    are left alone: neither changed nor removed."""
    steps: list[Step] = []
    steps.append(
        Step(
            action="noop" if actual.network else "create",
            target="network",
            name=desired.network,
        )
    )
    have_volumes = set(actual.volumes)
    for volume in desired.volumes:
        steps.append(
            Step(
                action="noop" if volume in have_volumes else "create", target="volume", name=volume
            )
        )

    wanted = {s.name for s in desired.services}
    for service in desired.services:
        step = _service_step(service, actual.tasks_of(service.name))
        if step.replace:
            olds = [t for t in actual.tasks if t.task in step.replace]
            order, why = rollout_order(desired.environment, service, olds)
            step = step.model_copy(update={"order": order, "order_reason": why})
        steps.append(step)

    gone = {t.service for t in actual.tasks} - wanted
    if only is not None:
        gone &= set(only)
    for name in sorted(gone):
        tasks = actual.tasks_of(name)
        steps.append(
            Step(
                action="remove",
                target=tasks[0].kind,
                name=name,
                replicas=(_count_slots(tasks), 0),
                stop=[t.task for t in tasks],
                reason="no longer in the environment",
            )
        )
    return Plan(environment=desired.environment, steps=steps)


def rollout_order(
    environment: str, service: ServiceDef, olds: Collection[ActualTask]
) -> tuple[Literal["start-first", "stop-first"], str | None]:
    """Whether old replicas of ``service`` must stop before new ones start, and why
    when the service did not ask for it.

    Old and new cannot run side by side when they would write the same data
    volume (two database servers on one data folder corrupt it), publish the same
    host port, or have the same container name.
    """
    definitions = [service.task, *(t.definition for t in olds if t.definition is not None)]
    volumes = sorted({v for d in definitions for v in d.exclusive_volumes()})
    if volumes:
        names = ", ".join(volumes)
        return "stop-first", f"writes volume {names}: one writer at a time"
    if any(p.publish for c in service.task.containers for p in c.ports):
        return "stop-first", "publishes a fixed host port"
    new_hash = service.task.spec_hash()
    if any(old.task == task_name(environment, service.name, old.replica, new_hash) for old in olds):
        return "stop-first", "the new replica has the old one's name"
    if service.max_surge == 0 and service.max_unavailable > 0:
        return "stop-first", None
    return "start-first", None


def _good(task: ActualTask, service: ServiceDef) -> bool:
    return (
        task.spec_hash == service.task.spec_hash()
        and task.complete(service.task)
        and all(c.live for c in task.containers)
    )


def _count_slots(tasks: list[ActualTask]) -> int:
    return len({t.replica for t in tasks})


def _service_step(service: ServiceDef, tasks: list[ActualTask]) -> Step:
    target = service.kind
    by_slot: dict[int, list[ActualTask]] = {}
    for t in tasks:
        by_slot.setdefault(t.replica, []).append(t)

    start: list[int] = []
    replace: list[str] = []
    stop: list[str] = []
    stale: list[ActualTask] = []
    for slot in range(1, service.replicas + 1):
        here = by_slot.pop(slot, [])
        good = [t for t in here if _good(t, service)]
        if good:
            stop.extend(t.task for t in here if t is not good[0])
        elif here:
            # Replace one stale task with a new one; drop any extra copies.
            replace.append(here[0].task)
            stale.append(here[0])
            stop.extend(t.task for t in here[1:])
        else:
            start.append(slot)
    for leftover in by_slot.values():
        stop.extend(t.task for t in leftover)

    before = _count_slots(tasks)
    replicas = (before, service.replicas)
    changes = _changes(stale, service.task)
    if before != service.replicas:
        changes.insert(0, FieldChange(path="replicas", old=before, new=service.replicas))

    action: Action
    if not tasks:
        action = "create"
    elif replace:
        action = "replace"
    elif start or stop:
        action = "scale"
    else:
        action = "noop"
    reason = _reason(stale, service) if replace else None
    return Step(
        action=action,
        target=target,
        name=service.name,
        replicas=replicas,
        changes=changes if action != "create" else [],
        start=start,
        replace=replace,
        stop=stop,
        reason=reason,
    )


def _reason(stale: list[ActualTask], service: ServiceDef) -> str:
    if any(t.spec_hash != service.task.spec_hash() for t in stale):
        return "definition changed"
    if any(not t.complete(service.task) for t in stale):
        return "containers missing"
    states = sorted(
        {f"{c.container} {c.condition}" for t in stale for c in t.containers if not c.live}
    )
    return ", ".join(states) if states else "not running"


def _changes(stale: list[ActualTask], new: TaskDef) -> list[FieldChange]:
    old = next((t.definition for t in stale if t.definition is not None), None)
    if old is None or old.spec_hash() == new.spec_hash():
        return []
    changes = diff_fields(_flatten(old), _flatten(new))
    return changes + _probe_changes(old, new, {c.path for c in changes})


def _probe_changes(old: TaskDef, new: TaskDef, shown: set[str]) -> list[FieldChange]:
    """A health check whose spec fields are the same but whose command is not: the
    probe Dockyard writes for them changed (an upgrade), which replaces the task."""
    before = {c.name: c.health for c in old.containers}
    changes = []
    for c in new.containers:
        prefix = f"containers.{c.name}.health"
        was = before.get(c.name)
        if c.health is None or was is None or was.test == c.health.test:
            continue
        if not any(path.startswith(prefix + ".") for path in shown):
            changes.append(
                FieldChange(path=f"{prefix}.probe", old="an earlier probe", new="this version's")
            )
    return changes


_OLD_HTTP = re.compile(r"http://127\.0\.0\.1:(\d+)(/[^'\" ]*)")
_OLD_TCP = re.compile(r"nc -z 127\.0\.0\.1 (\d+)")


def health_fields(health: HealthDef) -> dict[str, Any]:
    """A health check as the spec wrote it: ``http`` (with ``port``), ``tcp`` (with
    ``port``) or ``command``, and its timings. A definition made before the spec's
    fields were kept has them read back from its command."""
    fields: dict[str, Any] = {}
    if health.http is not None or health.tcp or health.command is not None:
        kind = {"http": health.http, "tcp": health.tcp or None, "command": health.command}
        fields.update({k: v for k, v in kind.items() if v is not None})
        if health.port is not None:
            fields["port"] = health.port
    elif health.test[:1] == ["CMD"]:
        fields["command"] = health.test[1:]
    elif (found := _OLD_HTTP.search(" ".join(health.test))) is not None:
        fields.update(http=found.group(2), port=int(found.group(1)))
    elif (found := _OLD_TCP.search(" ".join(health.test))) is not None:
        fields.update(tcp=True, port=int(found.group(1)))
    else:
        fields["test"] = health.test
    fields.update(
        interval=health.interval,
        timeout=health.timeout,
        retries=health.retries,
        start_period=health.start_period,
    )
    return fields


def diff_fields(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Field-level changes between two flattened definitions, in path order."""
    return [
        FieldChange(path=path, old=old.get(path), new=new.get(path))
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]


def _flatten(task: TaskDef) -> dict[str, Any]:
    """``containers.<name>.<field>[.<key>]`` → value, for readable diffs; the
    task's network aliases and the namespace it joins, when it says."""
    flat: dict[str, Any] = {"restart": task.restart}
    if task.aliases is not None:
        flat["aliases"] = list(task.aliases)
    if task.joins is not None:
        flat["joins"] = task.joins
    for c in task.containers:
        data = c.model_dump(mode="json", exclude={"name"})
        for key, value in data.items():
            prefix = f"containers.{c.name}.{key}"
            if key == "env":
                for k, v in value.items():
                    flat[f"{prefix}.{k}"] = v
            elif key == "ports":
                for p in value:
                    flat[f"{prefix}.{p['name']}"] = _port_text(p)
            elif key == "secrets":
                for secret in value:
                    flat[f"{prefix}.{secret['name']}"] = _secret_text(secret)
            elif key == "health" and c.health is not None:
                for k, v in health_fields(c.health).items():
                    flat[f"{prefix}.{k}"] = v
            elif value is not None and value != [] and value != {}:
                flat[prefix] = value
    return flat


def _secret_text(secret: dict[str, Any]) -> str:
    """A secret as a plan shows it: where it is, its version, and whose it is."""
    text = f"{secret['scope'] or 'shared'} version {secret['version']}"
    if secret.get("uid") is not None or secret.get("gid") is not None:
        text += f", owner {secret.get('uid')}:{secret.get('gid')}"
    if secret.get("mode") != 0o400:
        text += f", mode {secret['mode']:04o}"
    if secret.get("env"):
        text += f", also ${secret['env']}"
    return text


def _port_text(p: dict[str, Any]) -> str:
    text = f"{p['port']}/{p['protocol']}"
    if p.get("publish"):
        text = f"{p['host_ip']}:{p['publish']}->{text}"
    return text
