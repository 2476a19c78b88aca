"""Carry out a plan through an engine, one step at a time, in plan order.

A replica is replaced start-first (the new task must be healthy before the old
one goes) unless the two cannot run side by side: the service publishes a
fixed host port, or the new task would take the old one's name. A new task
that never becomes ready is removed and the deploy stops with the old task
still serving.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.deploy.events import Event, Reporter, silent
from dockyard.engines.base import Engine
from dockyard.errors import DeployError
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    DesiredState,
    Plan,
    ServiceDef,
    Step,
    task_name,
)


@dataclass
class ApplyResult:
    started: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def apply(
    engine: Engine,
    desired: DesiredState,
    actual: ActualState,
    plan: Plan,
    release: str,
    report: Reporter = silent,
) -> ApplyResult:
    result = ApplyResult()
    tasks = {t.task: t for t in actual.tasks}
    for step in plan.changes:
        report(Event("phase", step.name, _describe(step)))
        if step.target == "network":
            engine.ensure_network(desired)
        elif step.target == "volume":
            engine.ensure_volume(desired, step.name)
        elif step.action == "remove":
            for task_id in step.stop:
                _remove(engine, tasks[task_id], result, report)
        else:
            _service(
                engine, desired, desired.service(step.name), step, tasks, release, result, report
            )
    return result


def _describe(step: Step) -> str:
    text = f"{step.action} {step.target} {step.name}"
    if step.replicas and step.replicas[0] != step.replicas[1]:
        text += f" ({step.replicas[0]} → {step.replicas[1]} replicas)"
    return text


def _service(
    engine: Engine,
    desired: DesiredState,
    service: ServiceDef,
    step: Step,
    tasks: dict[str, ActualTask],
    release: str,
    result: ApplyResult,
    report: Reporter,
) -> None:
    for slot in step.start:
        _start(engine, desired, service, slot, release, result, report)
    publishes = any(p.publish for c in service.task.containers for p in c.ports)
    new_hash = service.task.spec_hash()
    for task_id in step.replace:
        old = tasks[task_id]
        same_name = old.task == task_name(desired.environment, service.name, old.replica, new_hash)
        if publishes or same_name:
            _remove(engine, old, result, report)
            try:
                _start(engine, desired, service, old.replica, release, result, report)
            except DeployError:
                _restore(engine, desired, service, old, result, report)
                raise
        else:
            _start(engine, desired, service, old.replica, release, result, report)
            _remove(engine, old, result, report)
    for task_id in step.stop:
        _remove(engine, tasks[task_id], result, report)


def _start(
    engine: Engine,
    desired: DesiredState,
    service: ServiceDef,
    slot: int,
    release: str,
    result: ApplyResult,
    report: Reporter,
) -> ActualTask:
    task = engine.start_task(desired, service, slot, release)
    report(Event("start", service.name, f"started {task.task}"))

    def progress(line: str) -> None:
        report(Event("info", service.name, line))

    try:
        engine.wait_ready(task, service.health_timeout, progress)
    except DeployError:
        report(Event("stop", service.name, f"removing {task.task}: it did not become ready"))
        engine.remove_task(task)
        raise
    result.started.append(task.task)
    report(Event("ready", service.name, f"{task.task} is ready"))
    return task


def _restore(
    engine: Engine,
    desired: DesiredState,
    service: ServiceDef,
    old: ActualTask,
    result: ApplyResult,
    report: Reporter,
) -> None:
    """Bring back a task that was removed to make room for one that failed."""
    if old.definition is None:
        report(Event("info", service.name, f"cannot restore {old.task}: no definition recorded"))
        return
    report(Event("phase", service.name, f"restoring the previous version of {service.name}"))
    previous = service.model_copy(update={"task": old.definition})
    try:
        _start(engine, desired, previous, old.replica, old.release or "", result, report)
    except DeployError as e:
        report(Event("info", service.name, f"the previous version did not come back: {e.message}"))


def _remove(engine: Engine, task: ActualTask, result: ApplyResult, report: Reporter) -> None:
    engine.remove_task(task)
    result.removed.append(task.task)
    report(Event("stop", task.service, f"removed {task.task}"))
