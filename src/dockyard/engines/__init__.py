"""Engines run an environment's tasks; :func:`engine_for` picks one by ``engine.kind``.

An engine is a set of small protocols, listed in :mod:`dockyard.engines.base`;
:class:`~dockyard.engines.base.Platform` is what every engine has, and
:class:`~dockyard.engines.base.Engine` all that one host offers.
Backends are imported only when chosen, so loading this package does not load
their drivers.
"""

from __future__ import annotations

from dockyard.engines.base import Engine, Platform
from dockyard.engines.errors import EngineUnsupported, TaskNotReady
from dockyard.errors import EngineError
from dockyard.spec.environment import EngineConfig

__all__ = ["Engine", "EngineUnsupported", "Platform", "TaskNotReady", "engine_for"]


def engine_for(config: EngineConfig) -> Platform:
    """The engine an environment file asks for."""
    if config.kind == "docker":
        from dockyard.engines.docker import DockerEngine

        return DockerEngine(host=config.host)
    raise EngineError(f"unknown engine kind {config.kind!r}", hint="Use engine.kind: docker.")
