"""Dockyard's own rollouts, for an engine that runs replicas one at a time (one host).

:class:`Batches` is the :class:`~dockyard.engines.converge.Converger` of such an
engine: each service rolls as :class:`~dockyard.deploy.rollout.Rollout` does —
batches of new replicas through the engine's
:class:`~dockyard.engines.replicas.Replicas`, into the ingress's rotation once
ready, the old ones out of it, drained and stopped, and the replaced ones put
back when the new ones fail and the service says ``rollback: auto``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable

from dockyard.deploy.rollout import Context, Rollout, remove
from dockyard.deploy.routing import IngressEngine, Router
from dockyard.engines.converge import Deployment, ServiceRollout
from dockyard.engines.replicas import Replicas
from dockyard.errors import DeployError
from dockyard.events import Event
from dockyard.parallel import together
from dockyard.plan.model import ActualState, ActualTask, ServiceDef, Step

RECOVER_POLL = 0.5
"""Seconds between two looks at replicas that are to pass their check again."""


@runtime_checkable
class BatchEngine(Replicas, IngressEngine, Protocol):
    """What Dockyard's own rollouts need of an engine: its replica operations, what
    runs, and a way into the ingress's container."""


@dataclass(frozen=True)
class _Guarded:
    """A rollout that puts the service back when it fails (``rollback: auto``)."""

    rollout: Rollout

    def run(self, step: Step) -> None:
        self.rollout.guarded(self.rollout.run, step)

    def watch(self) -> None:
        self.rollout.guarded(self.rollout.watch)

    def settle(self) -> None:
        self.rollout.settle()


class Batches:
    """The services of one deploy on an engine that Dockyard rolls replica by replica."""

    def __init__(self, engine: BatchEngine, deployment: Deployment) -> None:
        desired = deployment.desired
        self.engine = engine
        self.router = (
            Router(engine, desired, deployment.report) if desired.ingress is not None else None
        )
        self.ctx = Context(
            engine,
            desired,
            {t.task: t for t in deployment.actual.tasks},
            deployment.release,
            deployment.result,
            deployment.report,
            deployment.check,
            self.router,
            deployment.secrets,
        )

    def rollout(self, service: ServiceDef) -> ServiceRollout:
        return _Guarded(Rollout(self.ctx, service))

    def remove(self, step: Step) -> None:
        together(partial(remove, self.ctx, self.ctx.tasks[task_id]) for task_id in step.stop)

    def settle(self) -> None:
        """The ingress ends up routing to what runs now, including replicas a killed
        run left starting, once they are ready."""
        if self.router is None:
            return
        environment = self.ctx.desired.environment
        now = self.engine.observe(environment)
        if self._settle_starting(now) | self._settle_recovering(now):
            now = self.engine.observe(environment)
        self.router.sync(now)

    def _settle_recovering(self, actual: ActualState) -> bool:
        """Wait for running replicas of proxied services that are unhealthy now (a
        database they use was replaced a moment ago) to pass their check again,
        up to their ``health_timeout``: the routes loaded next list healthy
        replicas only, and one left out stays out until the next deploy. Those
        still unhealthy then are left out, and said so. Returns whether there
        were any."""
        assert self.router is not None
        proxied = {p.service for p in self.router.ingress.proxied}

        def ill(state: ActualState) -> list[ActualTask]:
            return [
                t
                for t in state.tasks
                if t.service in proxied
                and t.running
                and t.main is not None
                and t.main.health == "unhealthy"
            ]

        waiting = ill(actual)
        if not waiting:
            return False
        ctx = self.ctx
        names = ", ".join(sorted({t.service for t in waiting}))
        ctx.report(Event("phase", "", f"waiting for unhealthy replicas of {names} to recover"))
        timeout = max(ctx.desired.service(t.service).health_timeout for t in waiting)
        deadline = time.monotonic() + timeout
        ids = {t.task for t in waiting}
        while True:
            still = [t for t in ill(self.engine.observe(ctx.desired.environment)) if t.task in ids]
            if not still:
                return True
            if time.monotonic() >= deadline:
                for t in still:
                    warning = f"{t.task} is unhealthy: it stays out of the ingress's rotation"
                    ctx.report(Event("warn", t.service, warning))
                return True
            time.sleep(RECOVER_POLL)

    def _settle_starting(self, actual: ActualState) -> bool:
        """Wait for replicas whose health check is still starting (kept by the plan,
        e.g. left by a killed run) so that they join the rotation now, not never.
        Returns whether there were any."""
        ctx = self.ctx
        waited = False
        for service in ctx.desired.services:
            for task in actual.tasks_of(service.name):
                main = task.main
                if not task.running or main is None or main.health != "starting":
                    continue
                waited = True
                try:
                    self.engine.wait_ready(task, service.health_timeout, lambda line: None)
                except DeployError as e:
                    warning = f"{task.task} did not become ready: {e}"
                    ctx.report(Event("warn", service.name, warning))
        return waited
