"""Connecting to an engine: version, an address where nothing answers, the factory."""

from __future__ import annotations

import pytest

from dockyard.engines import engine_for
from dockyard.engines.docker import DockerEngine
from dockyard.errors import EngineUnreachable
from dockyard.spec.environment import EngineConfig

pytestmark = pytest.mark.engine


def test_ping_returns_the_server_version(engine: DockerEngine) -> None:
    version = engine.ping()
    assert version[0].isdigit(), version


def test_unreachable_host_names_the_address_and_how_to_start_docker() -> None:
    engine = DockerEngine(host="tcp://127.0.0.1:1")
    with pytest.raises(EngineUnreachable) as raised:
        engine.ping()
    error = raised.value
    assert "tcp://127.0.0.1:1" in error.message
    assert "refused" in error.message.lower()
    assert error.hint is not None and "make bootstrap" in error.hint
    assert error.code == "DY301"


def test_missing_socket_is_unreachable_too() -> None:
    engine = DockerEngine(host="unix:///nonexistent/docker.sock")
    with pytest.raises(EngineUnreachable, match=r"/nonexistent/docker\.sock"):
        engine.ping()


def test_engine_for_docker_kind(engine: DockerEngine) -> None:
    chosen = engine_for(EngineConfig(kind="docker"))
    assert isinstance(chosen, DockerEngine)
    assert chosen.ping() == engine.ping()
