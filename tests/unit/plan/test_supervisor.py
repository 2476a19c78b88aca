"""The supervisor accessory's definition, and what adding it leaves unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.errors import SpecError
from dockyard.plan import desire
from dockyard.plan.model import ContainerDef, MountDef, OneOffDef, TaskDef
from dockyard.plan.supervisor import (
    DOCKER_SOCKET,
    SUPERVISOR_SERVICE,
    add_supervisor,
    supervisor_service,
)
from dockyard.spec import load_environment
from tests.unit.plan.states import IMAGES

REPO = Path(__file__).resolve().parents[1] / "spec" / "cases" / "valid"


def test_the_supervisor_is_an_accessory_that_always_restarts_and_mounts_the_socket() -> None:
    service = supervisor_service("prod", "dockyard/supervisor:abc")
    assert service.name == SUPERVISOR_SERVICE and service.kind == "accessory"
    assert service.replicas == 1 and service.depends_on == []
    task = service.task
    assert task.restart == "always"
    assert task.aliases == []  # nothing reaches it by name
    (container,) = task.containers
    assert container.image == "dockyard/supervisor:abc"
    assert container.env["DOCKYARD_ENVIRONMENT"] == "prod"
    assert container.mounts == [MountDef(target=DOCKER_SOCKET, source=DOCKER_SOCKET)]
    assert container.ports == [] and container.health is not None
    assert '"source":"/var/run/docker.sock"' in task.canonical()


def test_a_whole_environment_gets_the_supervisor_a_part_only_when_named() -> None:
    env = load_environment(REPO, "local")
    whole = desire(env, IMAGES)
    assert whole.service(SUPERVISOR_SERVICE).task.main.image == "dockyard/supervisor:test"
    part = desire(env, IMAGES, only=["api"])
    assert SUPERVISOR_SERVICE not in {s.name for s in part.services}
    named = desire(env, IMAGES, only=["api", SUPERVISOR_SERVICE])
    assert SUPERVISOR_SERVICE in {s.name for s in named.services}


def test_the_supervisor_changes_no_other_service() -> None:
    env = load_environment(REPO, "local")
    with_it = desire(env, IMAGES)
    without = desire(env, IMAGES, only=[s.name for s in with_it.services][:-1])
    for service in without.services:
        assert with_it.service(service.name) == service


def test_its_name_is_taken_and_its_image_is_required() -> None:
    services = {SUPERVISOR_SERVICE: supervisor_service("prod", "img")}
    with pytest.raises(SpecError, match="cannot be called supervisor"):
        add_supervisor(services, "prod", {SUPERVISOR_SERVICE: "img"})
    with pytest.raises(SpecError, match="no image was built for 'supervisor'"):
        add_supervisor({}, "prod", {})


def test_a_mount_without_a_source_keeps_the_hashes_it_had_before_bind_mounts() -> None:
    """The figures were computed before ``MountDef.source`` existed."""
    db = ContainerDef(
        name="db",
        image="sha256:db",
        env={"A": "1"},
        mounts=[
            MountDef(target="/data", volume="dockyard-x-data"),
            MountDef(target="/tmp", tmpfs=True, read_only=True),
        ],
    )
    task = TaskDef(containers=[db, ContainerDef(name="side", image="sha256:s", sidecar=True)])
    assert task.spec_hash() == "1e6da5a2e2cc"
    assert OneOffDef(service="db", name="m", container=db).definition_hash() == "0b8e423b7938"
    for container in json.loads(task.canonical())["containers"]:
        assert all("source" not in m for m in container["mounts"])
    # What a container label holds still reads back to the same definition.
    assert TaskDef.model_validate_json(task.canonical()) == task
