"""The seam between the deploy orchestrator and how an engine rolls services out.

``dockyard.deploy.apply`` walks a plan's service steps one dependency wave at a
time and hands each service to the deploy's :class:`Converger`, which brings
it to its definition in the engine's own way:

- on one host, Dockyard rolls it itself (``dockyard.deploy.batches``): batches
  of new replicas through the engine's
  :class:`~dockyard.engines.replicas.Replicas`, moved into the ingress's
  rotation as they get ready, the old ones drained and stopped;
- an engine that rolls services natively (a cluster: Swarm's service update,
  with its order, parallelism, monitor window and rollback on failure) offers
  :class:`ConvergesServices` and supplies a converger of its own.

The orchestrator sees neither replicas nor their operations, only these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from dockyard.engines.model import NO_SECRETS, SecretValues
from dockyard.events import Reporter
from dockyard.plan.model import ActualState, DesiredState, ServiceDef, Step


@dataclass
class ApplyResult:
    """What a deploy started and removed: task names, in the order it happened."""

    started: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Deployment:
    """One deploy, as the rollouts of its services see it."""

    desired: DesiredState
    actual: ActualState  # what ran when the plan was made
    release: str  # the release number every new task is labelled with
    report: Reporter
    check: Callable[[], None]  # runs before every change; raises to stop the deploy
    result: ApplyResult = field(default_factory=ApplyResult)
    secrets: SecretValues = NO_SECRETS  # the values of the secrets its tasks get


class ServiceRollout(Protocol):
    """One service on its way to its definition during one deploy.

    A failure raises DeployError (TaskNotReady with the failing container's last
    log lines when a task never became ready). With ``rollback: auto`` the
    service is back at its previous version by then; with ``rollback: manual``
    it is left where it failed.
    """

    def run(self, step: Step) -> None:
        """Carry out the plan's ``step`` for the service: add the replicas it starts,
        replace those it replaces, stop those it stops, in the order it names."""
        ...

    def watch(self) -> None:
        """Once every wave is out: hold the new version for the service's ``watch``
        seconds, failing as ``run`` does when it breaks meanwhile."""
        ...

    def settle(self) -> None:
        """When the deploy has failed: wait for what the rollout still has going on
        (old replicas that stop while the next batch starts), reporting rather than
        raising what goes wrong with it."""
        ...


class Converger(Protocol):
    """How the services of one engine reach their definitions during one deploy."""

    def rollout(self, service: ServiceDef) -> ServiceRollout:
        """The rollout of ``service`` (its new definition) in this deploy."""
        ...

    def remove(self, step: Step) -> None:
        """Remove a service that is no longer in the environment (a ``remove`` step)."""
        ...

    def settle(self) -> None:
        """Once every step is done, whatever failed: leave the environment's routing
        in step with what runs now."""
        ...


@runtime_checkable
class ConvergesServices(Protocol):
    """An engine that rolls services out itself, a cluster engine; one that does not
    is rolled by Dockyard through its replica operations instead."""

    def converger(self, deployment: Deployment) -> Converger:
        """The converger of ``deployment`` on this engine."""
        ...
