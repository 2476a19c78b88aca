"""What every command needs: the loaded environment, its engine, its state store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dockyard import spec
from dockyard.engines import engine_for
from dockyard.engines.base import Engine
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.state import StateStore, open_store


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


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
