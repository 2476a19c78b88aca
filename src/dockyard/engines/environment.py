"""``Environments``: what runs for an environment, and the network and volumes it runs on.

Every engine has these, one host or a cluster: Dockyard plans from what
``observe`` reports, read back from the labels in :mod:`dockyard.plan.model`,
and nothing is cached that the engine can tell.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dockyard.plan.model import ActualState, ActualTask, DesiredState


@runtime_checkable
class Environments(Protocol):
    """An engine's view of one environment: what runs (and removing it), its network,
    its volumes."""

    def observe(self, environment: str) -> ActualState:
        """What runs for ``environment``, read back from Dockyard's labels."""
        ...

    def ensure_network(self, desired: DesiredState) -> None:
        """Create the environment's network unless it exists."""
        ...

    def ensure_volume(self, desired: DesiredState, volume: str) -> None:
        """Create the named volume ``volume`` unless it exists."""
        ...

    def remove_task(self, task: ActualTask) -> None:
        """Stop (SIGTERM, grace, SIGKILL) and remove a task ``observe`` reported, every
        container of it, sidecars first; gone already is fine. (A cluster engine,
        which cannot remove one task of a service, removes the task's service.)"""
        ...

    def remove_network(self, environment: str) -> None:
        """Remove the environment's network; gone already is fine. Raises EngineError
        while something is still attached to it."""
        ...

    def remove_volume(self, volume: str) -> None:
        """Remove a named volume; gone already is fine. Raises EngineError while a
        container still uses it."""
        ...
