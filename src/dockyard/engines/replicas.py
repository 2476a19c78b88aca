"""``Replicas``: one replica at a time, the operations Dockyard's own rollouts drive.

A replica is a task (a main container plus sidecars sharing its network
namespace) in one slot of a service. An engine that runs tasks itself, one host,
offers these; a cluster engine that rolls its services natively does not and
offers :class:`~dockyard.engines.converge.ConvergesServices` instead.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dockyard.engines.model import NO_SECRETS, ProgressFn, SecretValues
from dockyard.plan.model import ActualTask, DesiredState, ServiceDef


@runtime_checkable
class Replicas(Protocol):
    """Start one replica, wait until it is ready, check that it stays so (removing
    one is ``Environments.remove_task``, which every engine has)."""

    def start_task(
        self,
        desired: DesiredState,
        service: ServiceDef,
        replica: int,
        release: str,
        secrets: SecretValues = NO_SECRETS,
    ) -> ActualTask:
        """Create and start one replica's containers (main first, then sidecars),
        each with the files of its secrets (``secrets`` holds their values)."""
        ...

    def wait_ready(self, task: ActualTask, timeout: float, progress: ProgressFn) -> None:
        """Wait until the task runs and its main container is healthy (or has no
        check). Raises TaskNotReady with the failing container's last log lines."""
        ...

    def check_task(self, task: ActualTask) -> None:
        """Raise TaskNotReady (with the last log lines) when a task that was ready has
        failed since: a container exited or restarted, or the main turned unhealthy."""
        ...
