"""Where every command starts: the environment of its ENV, loaded and validated."""

from __future__ import annotations

import argparse
from pathlib import Path

from dockyard import spec
from dockyard.spec.loaded import LoadedEnvironment


def load(args: argparse.Namespace, name: str | None = None) -> LoadedEnvironment:
    """The environment ``name`` (default: the command's ENV), validated."""
    start = args.directory if args.directory is not None else Path.cwd()
    repo = spec.find_repo(Path(start).resolve())
    return spec.load_environment(repo, name or args.environment)
