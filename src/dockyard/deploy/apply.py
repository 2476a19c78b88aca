"""Carry out a plan through an engine.

Networks and volumes come first. Service steps then run by their dependencies:
each service is deployed as soon as the services it depends on are, at the same
time as any other that is ready to go, and the new replicas of one service start
together and are waited for together.

Replacements roll in batches. Start-first (the default): ``max_surge`` new
replicas start, become healthy, join the ingress's rotation; then as many old
ones leave it, finish the requests they are answering (``drain``), get SIGTERM
and, after their grace period, SIGKILL, while the next batch starts. Stop-first
when the service asks for it (``max_surge: 0``, batches of ``max_unavailable``)
or when old and new cannot run side by side (a fixed published host port, or
the same task name).

A new replica that crashes, never becomes healthy, or fails within ``watch``
seconds of becoming healthy (of a service that ran before) stops the rollout.
With ``rollback: auto`` the replaced replicas are started again from their
recorded definitions, rejoin the rotation, and the new ones leave it and are
removed; the error (with the failing container's last log lines) is raised
either way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from dockyard.deploy.rollout import (
    ApplyResult,
    Context,
    describe,
    remove,
    roll_out,
    together,
)
from dockyard.deploy.routing import Router
from dockyard.engines.base import Engine
from dockyard.errors import DeployError
from dockyard.events import Event, Reporter, silent
from dockyard.plan.model import ActualState, DesiredState, Plan

__all__ = ["ApplyResult", "apply"]


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
    router = Router(engine, desired, report) if desired.ingress is not None else None
    ctx = Context(engine, desired, tasks, release, result, report, check, router)
    changes = plan.changes
    for step in changes:
        if step.target == "network":
            report(Event("phase", step.name, describe(step)))
            engine.ensure_network(desired)
        elif step.target == "volume":
            report(Event("phase", step.name, describe(step)))
            engine.ensure_volume(desired, step.name)
    deploying = [
        s for s in changes if s.target in ("service", "accessory") and s.action != "remove"
    ]
    roll_out(ctx, deploying)
    for step in changes:
        if step.action == "remove":
            report(Event("phase", step.name, describe(step)))
            together(partial(remove, ctx, ctx.tasks[task_id]) for task_id in step.stop)
    if router is not None and changes:
        # Whatever happened above, the ingress ends up routing to what runs now,
        # including replicas a killed run left starting, once they are ready.
        now = engine.observe(desired.environment)
        if _settle_starting(ctx, now):
            now = engine.observe(desired.environment)
        router.sync(now)
    return result


def _settle_starting(ctx: Context, actual: ActualState) -> bool:
    """Wait for replicas whose health check is still starting (kept by the plan,
    e.g. left by a killed run) so that they join the rotation now, not never.
    Returns whether there were any."""
    waited = False
    for service in ctx.desired.services:
        for task in actual.tasks_of(service.name):
            main = task.main
            if not task.running or main is None or main.health != "starting":
                continue
            waited = True
            try:
                ctx.engine.wait_ready(task, service.health_timeout, lambda line: None)
            except DeployError as e:
                ctx.report(Event("warn", service.name, f"{task.task} did not become ready: {e}"))
    return waited
