"""Spec files: loading, models, parameters and errors with locations.

The public entry points::

    repo = find_repo(Path.cwd())
    env = load_environment(repo, "staging")   # LoadedEnvironment, or SpecErrors

Each name below is imported from its module when it is first used, so that a
module of this package that needs no models (:mod:`dockyard.spec.repo`, say)
loads without pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.spec.loaded import LoadedEnvironment, LoadedService, Locator, ParamValue
    from dockyard.spec.loader import load_environment, load_service
    from dockyard.spec.repo import environment_names, environment_path, find_repo
    from dockyard.spec.schema import json_schema
    from dockyard.spec.yamlsource import SourceMap, load_yaml

_MODULES = {
    "LoadedEnvironment": "dockyard.spec.loaded",
    "LoadedService": "dockyard.spec.loaded",
    "Locator": "dockyard.spec.loaded",
    "ParamValue": "dockyard.spec.loaded",
    "load_environment": "dockyard.spec.loader",
    "load_service": "dockyard.spec.loader",
    "environment_names": "dockyard.spec.repo",
    "environment_path": "dockyard.spec.repo",
    "find_repo": "dockyard.spec.repo",
    "json_schema": "dockyard.spec.schema",
    "SourceMap": "dockyard.spec.yamlsource",
    "load_yaml": "dockyard.spec.yamlsource",
}

__all__ = [
    "LoadedEnvironment",
    "LoadedService",
    "Locator",
    "ParamValue",
    "SourceMap",
    "environment_names",
    "environment_path",
    "find_repo",
    "json_schema",
    "load_environment",
    "load_service",
    "load_yaml",
]


def __getattr__(name: str) -> object:
    """A public name, imported from its module on first use (PEP 562)."""
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULES[name]), name)
    globals()[name] = value
    return value
