"""The result of loading an environment: validated specs plus where they came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import Location
from dockyard.spec.environment import EnvironmentSpec
from dockyard.spec.models import ServiceSpec

ParamValue = str | int | float | bool

Locator = Callable[[tuple[str | int, ...]], Location]
"""Maps a path of keys/indexes in a file (e.g. ("containers", "api", "ports", 0,
"publish")) to the location of that node; falls back to the nearest parent."""


@dataclass(frozen=True)
class LoadedService:
    name: str
    source: Path  # the service repo folder
    path: Path  # the spec file
    spec: ServiceSpec  # after ${} interpolation
    params: dict[str, ParamValue]  # resolved values of the declared params
    params_path: Path | None  # params/<env>.yaml when present
    locate: Locator


@dataclass(frozen=True)
class LoadedEnvironment:
    name: str
    repo: Path  # the environment repo root
    path: Path  # environments/<name>.yaml
    spec: EnvironmentSpec
    services: list[LoadedService] = field(default_factory=list)
    locate: Locator | None = None

    def service(self, name: str) -> LoadedService:
        return next(s for s in self.services if s.name == name)
