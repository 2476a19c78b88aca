"""The engine and the state store of a loaded environment, for the commands that
use them (validating specs needs neither)."""

from __future__ import annotations

from dockyard.deploy.history import check_history
from dockyard.engines import engine_for
from dockyard.engines.base import Platform
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.state import StateStore, StoreMissing, open_store


def engine_of(env: LoadedEnvironment) -> Platform:
    engine = engine_for(env.spec.engine)
    engine.ping()
    return engine


def store_of(env: LoadedEnvironment) -> StateStore:
    return open_store(env.spec.state, env.repo)


def existing_store(env: LoadedEnvironment) -> StateStore:
    """The environment's store for a command that only reads it: never created;
    :class:`StoreMissing` when there is none."""
    return open_store(env.spec.state, env.repo, create=False)


def writable_store(env: LoadedEnvironment, engine: Platform) -> StateStore:
    """The environment's store for a command that writes history. A missing store
    is created only when the engine runs no release of the environment."""
    try:
        return existing_store(env)
    except StoreMissing as missing:
        check_history(engine, env.name, missing)
    return store_of(env)
