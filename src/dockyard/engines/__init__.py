"""Engines run an environment's tasks; :func:`engine_for` picks one by ``engine.kind``.

The interface is :class:`~dockyard.engines.base.Engine`. Backends are imported
only when chosen, so loading this package does not load their drivers.
"""

from __future__ import annotations

from dockyard.engines.base import BuildRequest, Engine, ProgressFn
from dockyard.errors import DeployError, EngineError
from dockyard.spec.environment import EngineConfig

__all__ = ["BuildRequest", "Engine", "ProgressFn", "TaskNotReady", "engine_for"]


class TaskNotReady(DeployError):
    """A started task did not become ready: a container exited, kept restarting,
    turned unhealthy, or the deadline passed.

    ``container`` names the failing container and ``logs`` holds its last log
    lines (also quoted in the message).
    """

    def __init__(
        self, message: str, *, container: str, logs: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.container = container
        self.logs = logs


def engine_for(config: EngineConfig) -> Engine:
    """The engine an environment file asks for."""
    if config.kind == "docker":
        from dockyard.engines.docker import DockerEngine

        return DockerEngine(host=config.host)
    raise EngineError(f"unknown engine kind {config.kind!r}", hint="Use engine.kind: docker.")
