"""Where a release goes: the vocabulary that releases, promotions and locks share."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engines.base import Platform
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.state import StateStore


@dataclass(frozen=True)
class Target:
    """Where a release goes: the environment, its engine and its state store."""

    env: LoadedEnvironment
    engine: Platform
    store: StateStore
