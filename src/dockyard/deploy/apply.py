"""Carry out a plan through an engine.

Networks and volumes come first. Service steps then run in dependency waves:
every service whose dependencies are settled is deployed at the same time as
the others of its wave. How one service reaches its new definition is the
engine's converger's business (:mod:`dockyard.engines.converge`): an engine
that rolls services itself supplies its own; any other is rolled by Dockyard
(:mod:`dockyard.deploy.batches`), as follows.

The new replicas of one service start together and are waited for together.
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

from dockyard.deploy.batches import BatchEngine, Batches
from dockyard.deploy.rollout import describe, together
from dockyard.engines.capabilities import unsupported
from dockyard.engines.converge import (
    ApplyResult,
    Converger,
    ConvergesServices,
    Deployment,
    ServiceRollout,
)
from dockyard.engines.environment import Environments
from dockyard.events import Event, Reporter, silent
from dockyard.plan.model import ActualState, DesiredState, Plan, Step

__all__ = ["ApplyResult", "apply", "converger_for"]


def apply(
    engine: Environments,
    desired: DesiredState,
    actual: ActualState,
    plan: Plan,
    release: str,
    report: Reporter = silent,
    check: Callable[[], None] = lambda: None,
) -> ApplyResult:
    """Apply ``plan``. ``check`` runs before every change and may raise to stop the
    deploy (the deploy lock uses it when its lease was lost)."""
    deployment = Deployment(desired, actual, release, report, check)
    converger = converger_for(engine, deployment)
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
    rollouts: list[ServiceRollout] = []
    try:
        for wave in _waves(deploying, desired):
            started = [(converger.rollout(desired.service(step.name)), step) for step in wave]
            rollouts += [rollout for rollout, _ in started]
            together([partial(rollout.run, step) for rollout, step in started])
        # Watch windows run together, once every wave is out: a failure still
        # reverts the service that failed.
        together([rollout.watch for rollout in rollouts])
    except Exception:
        for rollout in rollouts:  # what they still have going on ends before the error
            rollout.settle()
        raise
    for step in changes:
        if step.action == "remove":
            report(Event("phase", step.name, describe(step)))
            converger.remove(step)
    if changes:
        converger.settle()
    return deployment.result


def converger_for(engine: Environments, deployment: Deployment) -> Converger:
    """How ``engine`` rolls out the services of ``deployment``: its own way when it
    rolls services itself, else Dockyard's batches over its replica operations."""
    if isinstance(engine, ConvergesServices):
        return engine.converger(deployment)
    if isinstance(engine, BatchEngine):
        return Batches(engine, deployment)
    raise unsupported(
        engine,
        "services",
        "An engine either rolls services out itself or lets Dockyard roll them replica by "
        "replica (it then needs replicas and container access); use engine.kind: docker.",
    )


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
