"""What every command needs: the loaded environment, its engine, its state store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dockyard import spec
from dockyard.deploy.history import check_history
from dockyard.engines import engine_for
from dockyard.engines.base import Engine
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.state import StateStore, StoreMissing, open_store


def load(args: argparse.Namespace, name: str | None = None) -> LoadedEnvironment:
    """The environment ``name`` (default: the command's ENV), validated."""
    start = args.directory if args.directory is not None else Path.cwd()
    repo = spec.find_repo(Path(start).resolve())
    return spec.load_environment(repo, name or args.environment)


def engine_of(env: LoadedEnvironment) -> Engine:
    engine = engine_for(env.spec.engine)
    engine.ping()
    return engine


def store_of(env: LoadedEnvironment) -> StateStore:
    return open_store(env.spec.state, env.repo)


def existing_store(env: LoadedEnvironment) -> StateStore:
    """The environment's store for a command that only reads it: never created;
    :class:`StoreMissing` when there is none."""
    return open_store(env.spec.state, env.repo, create=False)


def writable_store(env: LoadedEnvironment, engine: Engine) -> StateStore:
    """The environment's store for a command that writes history. A missing store
    is created only when the engine runs no release of the environment."""
    try:
        return existing_store(env)
    except StoreMissing as missing:
        check_history(engine, env.name, missing)
    return store_of(env)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
