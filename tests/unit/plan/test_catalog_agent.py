"""The catalog agent's definition: there only when the environment lists
registrars, in the engine host's network, with what it needs in its environment;
adding it changes no other service."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dockyard.errors import SpecError
from dockyard.plan import desire
from dockyard.plan.discovery import AGENT_SERVICE, add_agent
from dockyard.plan.model import MountDef, TaskDef
from dockyard.plan.supervisor import DOCKER_SOCKET
from dockyard.spec import load_environment
from dockyard.spec.loaded import LoadedEnvironment
from tests.unit.plan.states import IMAGES, VALID

DISCOVERY = """
discovery:
  interval: 2s
  registrars:
    - {kind: etcd, endpoints: ["http://127.0.0.1:2379"], ttl: 5s}
"""


def with_registrars(tmp_path: Path) -> LoadedEnvironment:
    repo = tmp_path / "repo"
    shutil.copytree(VALID, repo)
    env_file = repo / "environments" / "local.yaml"
    env_file.write_text(env_file.read_text() + DISCOVERY)
    return load_environment(repo, "local")


def test_no_registrars_no_agent() -> None:
    names = {s.name for s in desire(load_environment(VALID, "local"), IMAGES).services}
    assert AGENT_SERVICE not in names


def test_the_agent_runs_in_the_hosts_network_with_the_socket_read_only(tmp_path: Path) -> None:
    desired = desire(with_registrars(tmp_path), IMAGES)
    agent = desired.service(AGENT_SERVICE)
    assert agent.kind == "accessory" and agent.task.restart == "always"
    assert agent.task.host_network and agent.task.aliases == []
    (container,) = agent.task.containers
    assert container.image == "dockyard/catalog-agent:test"
    assert container.mounts == [
        MountDef(target=DOCKER_SOCKET, source=DOCKER_SOCKET, read_only=True)
    ]
    env = container.env
    assert env["DOCKYARD_ENVIRONMENT"] == "local" and env["DOCKYARD_INTERVAL"] == "2"
    (registrar,) = json.loads(env["DOCKYARD_REGISTRARS"])
    assert registrar["kind"] == "etcd" and registrar["ttl"] == 5.0
    assert registrar["endpoints"] == ["http://127.0.0.1:2379"]
    routes = json.loads(env["DOCKYARD_ROUTES"])
    assert routes["db"] == {"5432": ["db:5432"]}


def test_the_agent_changes_no_other_service(tmp_path: Path) -> None:
    plain = {s.name: s for s in desire(load_environment(VALID, "local"), IMAGES).services}
    with_it = {s.name: s for s in desire(with_registrars(tmp_path), IMAGES).services}
    assert set(with_it) - set(plain) == {AGENT_SERVICE}
    for name, service in plain.items():
        assert with_it[name].task.spec_hash() == service.task.spec_hash()


def test_a_part_of_the_environment_brings_it_only_when_named(tmp_path: Path) -> None:
    env = with_registrars(tmp_path)
    assert AGENT_SERVICE not in {s.name for s in desire(env, IMAGES, only=["api"]).services}
    named = desire(env, IMAGES, only=["api", AGENT_SERVICE])
    assert AGENT_SERVICE in {s.name for s in named.services}


def test_its_name_is_taken_and_its_image_is_needed(tmp_path: Path) -> None:
    env = with_registrars(tmp_path)
    services = dict.fromkeys([AGENT_SERVICE], desire(env, IMAGES).service(AGENT_SERVICE))
    with pytest.raises(SpecError, match="cannot be called catalog-agent"):
        add_agent(services, env, IMAGES, None)
    with pytest.raises(SpecError, match="no image was built"):
        add_agent({}, env, {}, None)


def test_host_network_leaves_existing_definitions_hash_unchanged() -> None:
    task = TaskDef.model_validate({"containers": [{"name": "a", "image": "x"}]})
    assert "host_network" not in task.canonical()
    assert "host_network" in task.model_copy(update={"host_network": True}).canonical()
