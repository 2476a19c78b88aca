"""What an engine can do is read from the protocols it implements."""

from __future__ import annotations

from dockyard.engines import Engine, engine_for
from dockyard.engines.capabilities import SEAMS, capabilities, unsupported
from dockyard.engines.docker import DockerEngine
from dockyard.spec.environment import EngineConfig


class ExecOnly:
    """A test double that only runs commands in containers, and reads no logs."""

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        return 0, ""


def test_the_docker_engine_does_everything_one_host_does() -> None:
    engine: Engine = engine_for(EngineConfig(kind="docker", host="tcp://127.0.0.1:1"))
    assert isinstance(engine, DockerEngine)  # made without connecting
    assert isinstance(engine, Engine)
    assert capabilities(engine) == set(SEAMS) - {"services"}


def test_a_protocol_counts_only_when_every_method_is_there() -> None:
    assert capabilities(ExecOnly()) == frozenset()


def test_the_error_names_the_engine_what_it_lacks_and_what_it_has() -> None:
    engine = DockerEngine(host="tcp://127.0.0.1:1")
    error = unsupported(engine, "services", "Use a cluster engine.")
    assert (error.code, error.engine, error.capability) == ("DY302", "docker", "services")
    assert str(error).startswith("the docker engine cannot roll services out itself (it can: ")
    assert "replicas" in str(error) and error.hint == "Use a cluster engine."
    assert error.to_dict()["code"] == "DY302"
