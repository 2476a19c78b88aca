"""Spec files: loading, models, parameters and errors with locations.

The public entry points::

    repo = find_repo(Path.cwd())
    env = load_environment(repo, "staging")   # LoadedEnvironment, or SpecErrors
"""

from dockyard.spec.loaded import LoadedEnvironment, LoadedService, Locator, ParamValue
from dockyard.spec.loader import load_environment, load_service
from dockyard.spec.repo import environment_names, environment_path, find_repo
from dockyard.spec.schema import json_schema
from dockyard.spec.yamlsource import SourceMap, load_yaml

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
