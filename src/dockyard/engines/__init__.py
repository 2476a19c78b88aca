"""Engines run an environment's tasks; :func:`engine_for` picks one by ``engine.kind``.

The interface is :class:`~dockyard.engines.base.Engine`. Backends are imported
only when chosen, so loading this package does not load their drivers.
"""

from __future__ import annotations

from dockyard.engines.base import BuildRequest, Engine, ProgressFn
from dockyard.engines.errors import TaskNotReady
from dockyard.errors import EngineError
from dockyard.spec.environment import EngineConfig

__all__ = ["BuildRequest", "Engine", "ProgressFn", "TaskNotReady", "engine_for"]


def engine_for(config: EngineConfig) -> Engine:
    """The engine an environment file asks for."""
    if config.kind == "docker":
        from dockyard.engines.docker import DockerEngine

        return DockerEngine(host=config.host)
    raise EngineError(f"unknown engine kind {config.kind!r}", hint="Use engine.kind: docker.")
