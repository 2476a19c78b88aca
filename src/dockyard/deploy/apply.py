"""Carry out a plan through an engine.

Networks and volumes come first. Service steps then run in dependency waves:
every service whose dependencies are settled is deployed at the same time as
the others of its wave, and the new replicas of one service start together
and are waited for together. Replacements roll one replica at a time.

A replica is replaced start-first (the new task must be ready before the old
one goes) unless the two cannot run side by side: the service publishes a
fixed host port, or the new task would take the old one's name. Then the old
one goes first, and if the new one fails the old definition is started again.
A new task that never becomes ready is removed and the deploy stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

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


@dataclass(frozen=True)
class _Context:
    engine: Engine
    desired: DesiredState
    tasks: dict[str, ActualTask]
    release: str
    result: ApplyResult
    report: Reporter
    check: Callable[[], None]


def apply(
    engine: Engine,
    desired: DesiredState,
    actual: ActualState,
    plan: Plan,
    release: str,
    report: Reporter = silent,
    check: Callable[[], None] = lambda: None,
) -> ApplyResult:
    """Apply ``plan``. ``check`` runs before every change and may raise to stop the
    deploy (the deploy lock uses it when its lease was lost)."""
    result = ApplyResult()
    tasks = {t.task: t for t in actual.tasks}
    ctx = _Context(engine, desired, tasks, release, result, report, check)
    changes = plan.changes
    for step in changes:
        if step.target == "network":
            report(Event("phase", step.name, _describe(step)))
            engine.ensure_network(desired)
        elif step.target == "volume":
            report(Event("phase", step.name, _describe(step)))
            engine.ensure_volume(desired, step.name)
    deploying = [
        s for s in changes if s.target in ("service", "accessory") and s.action != "remove"
    ]
    for wave in _waves(deploying, desired):
        _together([partial(_service, ctx, s) for s in wave])
    for step in changes:
        if step.action == "remove":
            report(Event("phase", step.name, _describe(step)))
            for task_id in step.stop:
                _remove(ctx, ctx.tasks[task_id])
    return result


def _waves(steps: list[Step], desired: DesiredState) -> list[list[Step]]:
    """Group steps so that each service's dependencies are in an earlier wave."""
    level: dict[str, int] = {}
    for service in desired.services:  # dependencies come first in desired order
        deps = [level[d] for d in service.depends_on if d in level]
        level[service.name] = 1 + max(deps, default=-1)
    waves: dict[int, list[Step]] = {}
    for step in steps:
        waves.setdefault(level.get(step.name, 0), []).append(step)
    return [waves[k] for k in sorted(waves)]


def _together(work: Iterable[Callable[[], object]]) -> None:
    """Run every piece of work at once; raise the first failure once all have ended."""
    jobs = list(work)
    if len(jobs) <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error


def _describe(step: Step) -> str:
    text = f"{step.action} {step.target} {step.name}"
    if step.replicas and step.replicas[0] != step.replicas[1]:
        text += f" ({step.replicas[0]} → {step.replicas[1]} replicas)"
    return text


def _service(ctx: _Context, step: Step) -> None:
    ctx.report(Event("phase", step.name, _describe(step)))
    service = ctx.desired.service(step.name)
    _together([partial(_start, ctx, service, slot) for slot in step.start])
    publishes = any(p.publish for c in service.task.containers for p in c.ports)
    new_hash = service.task.spec_hash()
    for task_id in step.replace:
        old = ctx.tasks[task_id]
        same_name = old.task == task_name(
            ctx.desired.environment, service.name, old.replica, new_hash
        )
        if publishes or same_name:
            _remove(ctx, old)
            try:
                _start(ctx, service, old.replica)
            except DeployError:
                _restore(ctx, service, old)
                raise
        else:
            _start(ctx, service, old.replica)
            _remove(ctx, old)
    for task_id in step.stop:
        _remove(ctx, ctx.tasks[task_id])


def _start(ctx: _Context, service: ServiceDef, slot: int, release: str | None = None) -> None:
    ctx.check()
    task = ctx.engine.start_task(ctx.desired, service, slot, release or ctx.release)
    ctx.report(Event("start", service.name, f"started {task.task}"))

    def progress(line: str) -> None:
        ctx.report(Event("info", service.name, line))

    try:
        ctx.engine.wait_ready(task, service.health_timeout, progress)
    except DeployError:
        ctx.report(Event("stop", service.name, f"removing {task.task}: it did not become ready"))
        ctx.engine.remove_task(task)
        raise
    ctx.result.started.append(task.task)
    ctx.report(Event("ready", service.name, f"{task.task} is ready"))


def _restore(ctx: _Context, service: ServiceDef, old: ActualTask) -> None:
    """Bring back a task that was removed to make room for one that failed."""
    if old.definition is None:
        ctx.report(Event("info", service.name, f"cannot restore {old.task}: no definition"))
        return
    ctx.report(Event("phase", service.name, f"restoring the previous version of {service.name}"))
    previous = service.model_copy(update={"task": old.definition})
    try:
        _start(ctx, previous, old.replica, old.release or "")
    except DeployError as e:
        ctx.report(Event("info", service.name, f"the previous version did not come back: {e}"))


def _remove(ctx: _Context, task: ActualTask) -> None:
    ctx.check()
    ctx.engine.remove_task(task)
    ctx.result.removed.append(task.task)
    ctx.report(Event("stop", task.service, f"removed {task.task}"))
