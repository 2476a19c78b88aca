"""Carry out a plan through an engine.

Networks and volumes come first. Service steps then run by their dependencies:
each service is deployed as soon as the services it depends on are, at the same
time as any other that is ready to go. How one service reaches its new
definition is the engine's converger's business
(:mod:`dockyard.engines.converge`): an engine that rolls services itself
supplies its own; any other is rolled by Dockyard
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

import threading
from collections.abc import Callable, Sequence
from functools import partial

from dockyard.deploy.batches import BatchEngine, Batches
from dockyard.deploy.rollout import describe
from dockyard.engines.capabilities import unsupported
from dockyard.engines.converge import (
    ApplyResult,
    Converger,
    ConvergesServices,
    Deployment,
)
from dockyard.engines.environment import Environments
from dockyard.engines.model import NO_SECRETS, SecretValues
from dockyard.events import Event, Reporter, silent
from dockyard.parallel import together
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
    secrets: SecretValues = NO_SECRETS,
) -> ApplyResult:
    """Apply ``plan``, delivering ``secrets`` to the tasks that get them. ``check``
    runs before every change and may raise to stop the deploy (the deploy lock uses
    it when its lease was lost)."""
    deployment = Deployment(desired, actual, release, report, check, secrets=secrets)
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
    _roll_out(converger, desired, deploying)
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


def _roll_out(converger: Converger, desired: DesiredState, steps: Sequence[Step]) -> None:
    """Roll out the service of every step, each as soon as the services it depends
    on (those among ``steps``) are rolled out; then watch them all at once, so a
    failure still reverts the service that failed. Once a rollout has failed, no
    other starts, and the error is raised once what the rollouts still have going
    on (old replicas stopping) has ended."""
    rollouts = {step.name: converger.rollout(desired.service(step.name)) for step in steps}
    done = {name: threading.Event() for name in rollouts}
    failed = threading.Event()

    def run(step: Step) -> None:
        try:
            for dependency in desired.service(step.name).depends_on:
                if dependency in done:
                    done[dependency].wait()
            if not failed.is_set():
                rollouts[step.name].run(step)
        except BaseException:
            failed.set()
            raise
        finally:
            done[step.name].set()

    try:
        together(partial(run, step) for step in steps)
        together(rollout.watch for rollout in rollouts.values())
    except Exception:
        for rollout in rollouts.values():
            rollout.settle()
        raise
