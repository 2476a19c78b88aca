"""The rollout of one service: batches that start new replicas, move the ingress's
rotation from old to new, drain and stop the old ones, watch the new ones, and
put the old ones back when the new ones fail (see ``dockyard.deploy.apply``).

Start-first, the old replicas of a batch are out of rotation and drained before
the next batch starts; they get their SIGTERM, grace period and removal while it
does (``Rollout.watch`` waits for the last of them). Stop-first, they are gone
before their slots start again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from dockyard.deploy.routing import Router
from dockyard.deploy.watch import TrafficWatch, WatchFailed, summary
from dockyard.engines.converge import ApplyResult
from dockyard.engines.environment import Environments
from dockyard.engines.model import NO_SECRETS, SecretValues
from dockyard.engines.replicas import Replicas
from dockyard.errors import DeployError
from dockyard.events import Event, Reporter
from dockyard.parallel import Background, together
from dockyard.plan.diff import rollout_order
from dockyard.plan.model import ActualTask, DesiredState, ServiceDef, Step

WATCH_POLL = 0.5
"""Seconds between two looks at new replicas during their watch window."""


class RolloutEngine(Replicas, Environments, Protocol):
    """What a rollout needs of an engine: its replica operations, and removing a task."""


@dataclass(frozen=True)
class Context:
    engine: RolloutEngine
    desired: DesiredState
    tasks: dict[str, ActualTask]
    release: str
    result: ApplyResult
    report: Reporter
    check: Callable[[], None]
    router: Router | None
    secrets: SecretValues = NO_SECRETS


def describe(step: Step) -> str:
    text = f"{step.action} {step.target} {step.name}"
    if step.replicas and step.replicas[0] != step.replicas[1]:
        text += f" ({step.replicas[0]} → {step.replicas[1]} replicas)"
    return text


def _chunks(items: Sequence[ActualTask], size: int) -> list[Sequence[ActualTask]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Rollout:
    """The rollout of one service: what it started and what it replaced so far."""

    def __init__(self, ctx: Context, service: ServiceDef) -> None:
        self.ctx = ctx
        self.service = service
        router = ctx.router
        self.router = router if router is not None and router.proxies(service.name) else None
        self.fresh: list[tuple[ActualTask, float]] = []  # new replicas, when they were ready
        self.replaced: list[ActualTask] = []  # old replicas taken out: removed, or stopping
        # Whether the service ran before: without, a failure has nothing to go back to.
        self.previous = any(t.service == service.name for t in ctx.tasks.values())
        self._retiring = Background()  # old replicas stopping while the rollout goes on
        self._lock = threading.Lock()
        self.traffic: TrafficWatch | None = None  # the ingress's figures, once begun

    def guarded(self, work: Callable[..., None], *args: object) -> None:
        """Do ``work``; if it fails and the service says ``rollback: auto``, revert."""
        try:
            work(*args)
        except DeployError as e:
            if self.service.rollback == "auto":
                self.revert(eject=isinstance(e, WatchFailed))
            raise

    def run(self, step: Step) -> None:
        service, ctx = self.service, self.ctx
        ctx.report(Event("phase", step.name, describe(step)))
        self._begin_traffic([ctx.tasks[t] for t in (*step.replace, *step.stop)])
        self._start_batch(step.start)
        olds = [ctx.tasks[t] for t in step.replace]
        stop_first = self._stop_first(olds)
        size = service.max_unavailable if stop_first else service.max_surge
        for batch in _chunks(olds, max(1, size)):
            self._check_fresh()
            if stop_first:
                self._retire(batch)
                self.replaced += batch
                self._start_batch([old.replica for old in batch])
            else:
                started = self._start_batch([old.replica for old in batch], admit=False)
                if self.traffic is not None:
                    self.traffic.raise_failure()  # not into rotation after all
                self._retire(batch, admit=started, wait=False)
                self.replaced += batch
        self._retire([ctx.tasks[t] for t in step.stop], wait=False)

    def _stop_first(self, olds: Sequence[ActualTask]) -> bool:
        """Whether old replicas must go before new ones start (see ``rollout_order``)."""
        order, _ = rollout_order(self.ctx.desired.environment, self.service, olds)
        return order == "stop-first"

    def _start_batch(self, slots: Sequence[int], *, admit: bool = True) -> list[ActualTask]:
        """Start replicas in ``slots`` together; once all are ready, into rotation
        (unless the caller does that with ``_retire``)."""
        started: list[ActualTask] = []
        if not slots:
            return started

        def one(slot: int) -> None:
            task = start(self.ctx, self.service, slot)
            with self._lock:
                self.fresh.append((task, time.monotonic()))
                started.append(task)

        together([partial(one, slot) for slot in slots])
        if self.router is not None and admit:
            self.router.rotate(self.service.name, admit=started)
        return started

    def _retire(
        self, tasks: Sequence[ActualTask], admit: Sequence[ActualTask] = (), *, wait: bool = True
    ) -> None:
        """Out of rotation (as ``admit`` joins it, in the same step) and drained; then
        stopped (SIGTERM, grace, SIGKILL) and removed, all at once. Without ``wait``
        the stops go on while the caller does (``settle`` waits for them)."""
        if not tasks:
            return
        router = self.router
        name = self.service.name
        gone = router.rotate(name, admit=admit, retire=tasks) if router is not None else []
        if router is not None and gone:
            router.drain(self.service.name, gone, self.service.drain)

        def stop() -> None:
            together([partial(remove, self.ctx, task) for task in tasks])
            if router is not None and gone:
                router.forget(gone)

        if wait:
            stop()
        else:
            self._retiring.start(stop)

    def settle(self) -> None:
        """Wait for the old replicas that are still stopping. What went wrong with
        them is reported, not raised: for when the deploy has failed already."""
        if self.traffic is not None:
            self.traffic.stop()
        for failure in self._retiring.wait():
            self.ctx.report(
                Event("warn", self.service.name, f"an old replica did not go: {failure}")
            )

    def _check_fresh(self) -> None:
        """The new replicas are still healthy, and their figures at the ingress pass."""
        for task, _ in self.fresh:
            self.ctx.engine.check_task(task)
        if self.traffic is not None:
            self.traffic.check(self._fresh_dials())

    def _fresh_dials(self) -> list[tuple[int, list[str]]]:
        router = self.router
        if router is None:
            return []
        with self._lock:
            fresh = [task for task, _ in self.fresh]
        return [(t.replica, router.dials(self.service.name, t)) for t in fresh]

    def _begin_traffic(self, olds: Sequence[ActualTask]) -> None:
        """Judge the new replicas by the ingress's figures too, against ``olds``'."""
        rules, router = self.service.watch, self.router
        if router is None or not self.previous or rules.seconds <= 0 or self.traffic is not None:
            return
        if rules.max_error_rate >= 1.0 and rules.max_latency_p95 is None:
            return
        dials = [d for old in olds for d in router.dials(self.service.name, old)]
        traffic = TrafficWatch(self.service.name, router.traffic(), rules, dials, self.ctx.report)
        traffic.begin()
        self.traffic = traffic
        traffic.monitor(self._fresh_dials, lambda: self._eject([t for t, _ in self.fresh]))

    def _summary(self) -> None:
        if self.traffic is None or self.router is None:
            return
        router = self.router
        every = [d for t, _ in self.fresh for d in router.dials(self.service.name, t)]
        new, old = self.traffic.figures([(0, every)])
        if new:
            self.ctx.report(Event("info", self.service.name, summary(new[0].figures, old)))

    def watch(self) -> None:
        """Each new replica must stay healthy ``watch.seconds`` after it was ready,
        and pass the ingress's figures (``TrafficWatch``), while the last old
        replicas stop; a failure to stop one is raised. A service created from
        nothing has nothing to go back to: its new replicas are checked once, not
        watched."""
        try:
            self._watch()
        finally:
            if self.traffic is not None:
                self.traffic.stop()
        self._retiring.join()

    def _watch(self) -> None:
        watch = self.service.watch.seconds
        if watch <= 0 or not self.fresh or not self.previous:
            self._check_fresh()
            return
        self.ctx.report(
            Event(
                "phase",
                self.service.name,
                f"watching {self.service.name}'s new replicas for {watch:g}s",
            )
        )
        while True:
            now = time.monotonic()
            watched = [task for task, ready in self.fresh if now < ready + watch]
            self._check_fresh()
            if not watched:
                self._summary()
                return
            end = min(ready + watch for task, ready in self.fresh if now < ready + watch)
            time.sleep(max(0.0, min(WATCH_POLL, end - now)))

    def revert(self, *, eject: bool = False) -> None:
        """Put the replaced replicas back and remove the new ones. With ``eject``
        (they answer, but badly) the new ones leave the rotation first, when
        replicas of the previous version are still in it."""
        ctx, service = self.ctx, self.service
        ctx.report(Event("phase", service.name, f"rolling {service.name} back"))
        fresh = [task for task, _ in self.fresh]
        if self.traffic is not None:
            self.traffic.stop()
        if eject:
            self._eject(fresh)
        self.settle()  # the replaced replicas are gone before they start again
        if self._stop_first(self.replaced):
            self._retire(fresh)
            self._restore()
        else:
            self._restore(eject=eject)
            self._retire(fresh)
        previous = sum(1 for t in ctx.tasks.values() if t.service == service.name)
        what = "the new replicas are removed"
        if previous:
            what += f"; {previous} replica(s) of the previous version serve"
        ctx.report(Event("warn", service.name, f"rolled back: {what}"))

    def _eject(self, fresh: Sequence[ActualTask]) -> None:
        router, name = self.router, self.service.name
        if router is None or not fresh:
            return
        bad = {d for task in fresh for d in router.dials(name, task)}
        proxy = router.ingress.proxy(name)
        ports = proxy.ports if proxy is not None else []
        live = {d for port in ports for d in router.table.upstreams(name, port)}
        inside = [t for t in fresh if set(router.dials(name, t)) & live]
        if inside and all(set(router.table.upstreams(name, port)) - bad for port in ports):
            router.rotate(name, retire=inside)

    def _restore(self, *, eject: bool = False) -> None:
        ctx, service = self.ctx, self.service
        for old in self.replaced:
            if old.definition is None:
                ctx.report(Event("warn", service.name, f"cannot restore {old.task}: no definition"))
                continue
            previous = service.model_copy(update={"task": old.definition})
            try:
                task = start(ctx, previous, old.replica, old.release or "")
            except DeployError as e:
                ctx.report(
                    Event("warn", service.name, f"the previous version did not come back: {e}")
                )
                continue
            if self.router is not None:
                self.router.rotate(service.name, admit=[task])
                if eject:  # a previous replica serves: the bad ones leave at once
                    self._eject([t for t, _ in self.fresh])


def start(ctx: Context, service: ServiceDef, slot: int, release: str | None = None) -> ActualTask:
    ctx.check()
    task = ctx.engine.start_task(ctx.desired, service, slot, release or ctx.release, ctx.secrets)
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
    if ctx.router is not None:
        ctx.router.started(service.name, task)  # a new ingress gets its routes first
    return task


def remove(ctx: Context, task: ActualTask) -> None:
    ctx.check()
    if ctx.router is not None:
        ctx.router.stopping(task)  # the ingress that stays gets the routes first
    ctx.engine.remove_task(task)
    ctx.result.removed.append(task.task)
    ctx.report(Event("stop", task.service, f"removed {task.task}"))
