"""Fixtures for the state store tests: each test runs against SQLite (in a
temporary environment repo) and against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard.spec.environment import StateConfig
from dockyard.state import StateStore, open_store
from tests.fixtures.postgres import PASSWORD_ENV, postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]  # registered here as fixtures

OpenStore = Callable[[], StateStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An environment repo (only the store's default location matters here)."""
    return tmp_path / "platform"


@pytest.fixture
def state_config(backend: str, request: pytest.FixtureRequest) -> StateConfig:
    """SQLite at the default place in ``repo``, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return StateConfig()
    url: str = request.getfixturevalue("postgres_url")
    return StateConfig(url=url, password_env=PASSWORD_ENV)


@pytest.fixture
def open_stores(state_config: StateConfig, repo: Path) -> Iterator[OpenStore]:
    """Opens stores on the test's database (each its own connections, as another
    process would have); all are closed when the test ends."""
    opened: list[StateStore] = []

    def open_one() -> StateStore:
        store = open_store(state_config, repo)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_stores: OpenStore) -> StateStore:
    return open_stores()
