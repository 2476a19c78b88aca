"""Secrets arrive as files under /run/secrets: in memory, read-only, owned by the
container's user, for mains, sidecars and one-off tasks; they outlive a restart of
the container and go with the task."""

from __future__ import annotations

import hashlib
import json

import docker
import pytest

from dockyard.engines.docker import DockerEngine, oneoff
from dockyard.engines.docker import secrets as delivery
from dockyard.engines.docker.labels import oneoff_labels
from dockyard.engines.model import SecretValues
from dockyard.errors import DockyardError
from dockyard.plan.model import ContainerDef, OneOffDef, SecretDef

from .support import BASE_IMAGE, Run, exec_in, service, wait_for

pytestmark = pytest.mark.engine

CANARY = b"canary-7f3a9c-delivered"
OTHER = b"sidecar-only-51d2"
STAT = "stat -c '%a %u %g' /run/secrets/{name}"


def secret(name: str, version: str = "v1", **owner: int) -> SecretDef:
    return SecretDef(name=name, scope="api", version=version, **owner)


def values(*pairs: tuple[SecretDef, bytes]) -> SecretValues:
    return SecretValues({(s.scope, s.name, s.version): v for s, v in pairs})


def sleeper(name: str, *secrets: SecretDef, **fields: object) -> ContainerDef:
    return ContainerDef.model_validate(
        {
            "name": name,
            "image": BASE_IMAGE,
            "command": ["sleep", "infinity"],
            "stop_grace": 0.0,
            "secrets": list(secrets),
            **fields,
        }
    )


def shell(client: docker.DockerClient, container: str, script: str) -> str:
    code, output = exec_in(client, container, "sh", "-c", script)
    assert code == 0, output
    return output.strip()


def test_a_main_and_a_sidecar_get_their_own_files_in_memory(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    db, key = secret("DB_PASSWORD"), secret("API_KEY", uid=4242, gid=4343)
    api = service(
        "api",
        sleeper("api", db, user="1000:1001"),
        sleeper("log", key, sidecar=True, user="nobody"),
    )
    desired = test_run.desired(api).model_copy(update={"helper_image": BASE_IMAGE})
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1", values((db, CANARY), (key, OTHER)))
    main, sidecar = task.containers[0].id, task.containers[1].id
    assert task.main is not None and task.main.id == main

    assert shell(client, main, "cat /run/secrets/DB_PASSWORD") == CANARY.decode()
    assert shell(client, main, STAT.format(name="DB_PASSWORD")) == "400 1000 1001"
    assert shell(client, main, "ls /run/secrets") == "DB_PASSWORD"  # not the sidecar's
    # By name: nobody is 65534:65534 in the image's /etc/passwd. The spec's uid/gid win.
    assert shell(client, sidecar, STAT.format(name="API_KEY")) == "400 4242 4343"
    mounts = shell(client, main, "grep ' /run/secrets ' /proc/mounts")
    assert mounts.split()[2] == "tmpfs" and mounts.split()[3].startswith("ro,")
    code, _ = exec_in(client, main, "sh", "-c", "echo x > /run/secrets/DB_PASSWORD")
    assert code != 0  # read-only

    for container_id in (main, sidecar):
        info = json.dumps(client.api.inspect_container(container_id))
        assert CANARY.decode() not in info and OTHER.decode() not in info
        assert "DB_PASSWORD=" not in info

    observed = engine.observe(test_run.environment)
    (found,) = observed.tasks
    assert [c.role for c in found.containers] == ["main", "sidecar", "keeper"]
    assert found.running
    assert observed.volumes == []  # the secrets' volumes are the task's, not the environment's

    client.api.restart(main, timeout=0)  # the keeper holds the files meanwhile
    wait_for(lambda: client.api.inspect_container(main)["State"]["Running"], 20, "restart")
    assert shell(client, main, "cat /run/secrets/DB_PASSWORD") == CANARY.decode()

    engine.remove_task(found)
    assert engine.observe(test_run.environment).tasks == []
    left = client.api.volumes(filters={"label": f"dockyard.task={task.task}"})
    assert not (left or {}).get("Volumes")


def test_a_task_whose_keeper_is_gone_does_not_count_as_running(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    """After an engine restart the files are gone (they were only in memory): the
    task no longer counts as running, so the next release replaces it."""
    db = secret("DB_PASSWORD")
    api = service("api", sleeper("api", db))
    desired = test_run.desired(api).model_copy(update={"helper_image": BASE_IMAGE})
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1", values((db, CANARY)))
    keeper = next(
        c for c in engine.observe(test_run.environment).tasks[0].containers if c.role == "keeper"
    )
    client.api.kill(keeper.id)
    wait_for(lambda: not engine.observe(test_run.environment).tasks[0].running, 20, "not running")
    engine.remove_task(task)


def test_a_value_not_read_stops_the_start_and_leaves_nothing(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    db = secret("DB_PASSWORD")
    api = service("api", sleeper("api", db))
    desired = test_run.desired(api).model_copy(update={"helper_image": BASE_IMAGE})
    engine.ensure_network(desired)
    with pytest.raises(DockyardError) as raised:
        engine.start_task(desired, api, 0, "r1", SecretValues())
    assert "DB_PASSWORD" in str(raised.value)
    assert (
        client.api.containers(all=True, filters={"label": f"dockyard.env={test_run.environment}"})
        == []
    )
    volumes = client.api.volumes(filters={"label": f"dockyard.env={test_run.environment}"})
    assert not (volumes or {}).get("Volumes")


def test_a_one_off_task_gets_its_files_and_leaves_nothing(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    db = secret("DB_PASSWORD")
    container = sleeper("migrate", db, user="nobody").model_copy(
        update={
            "command": [
                "sh",
                "-c",
                f"{STAT.format(name='DB_PASSWORD')}; sha256sum /run/secrets/DB_PASSWORD; "
                "grep ' /run/secrets ' /proc/mounts | cut -d' ' -f3",
            ]
        }
    )
    task = OneOffDef(service="api", name="migrate", container=container, timeout=60.0)
    desired = test_run.desired().model_copy(update={"helper_image": BASE_IMAGE})
    lines: list[str] = []
    result = engine.run_oneoff(desired, task, "r1", lines.append, values((db, CANARY)))
    assert result.exit_code == 0, lines
    assert lines[0] == "400 65534 65534"
    assert lines[1].split()[0] == hashlib.sha256(CANARY).hexdigest()
    assert lines[2] == "tmpfs"
    env = f"dockyard.env={test_run.environment}"
    assert client.api.containers(all=True, filters={"label": env}) == []
    assert not (client.api.volumes(filters={"label": env}) or {}).get("Volumes")


def test_a_variable_only_when_the_spec_names_one(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    """A program that cannot read a file gets the variable it asks for: at the cost
    that the value then shows in ``docker inspect``."""
    named = SecretDef(name="TOKEN", scope="", version="v1", env="LEGACY_TOKEN")
    api = service("api", sleeper("api", named))
    desired = test_run.desired(api).model_copy(update={"helper_image": BASE_IMAGE})
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1", values((named, CANARY)))
    main = task.containers[0].id
    assert shell(client, main, "printenv LEGACY_TOKEN") == CANARY.decode()
    assert shell(client, main, "cat /run/secrets/TOKEN") == CANARY.decode()
    assert f"LEGACY_TOKEN={CANARY.decode()}" in client.api.inspect_container(main)["Config"]["Env"]


def test_a_start_that_a_killed_run_left_half_done_is_made_again(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    """A deploy killed after the keeper started and before the main did leaves the
    keeper and its volumes: the next start of that task replaces them."""
    db = secret("DB_PASSWORD")
    api = service("api", sleeper("api", db))
    desired = test_run.desired(api).model_copy(update={"helper_image": BASE_IMAGE})
    engine.ensure_network(desired)
    first = engine.start_task(desired, api, 0, "r1", values((db, b"old")))
    client.api.remove_container(first.containers[0].id, force=True)  # the keeper stays
    again = engine.start_task(desired, api, 0, "r1", values((db, CANARY)))
    assert shell(client, again.containers[0].id, "cat /run/secrets/DB_PASSWORD") == (
        CANARY.decode()
    )
    assert [c.role for c in again.containers] == ["main", "keeper"]


def test_what_a_killed_one_off_run_left_is_swept(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    """A run killed while its task ran leaves the keeper and the volume of its
    secrets: the sweep of leftover tasks removes them with the task's container."""
    db = secret("DB_PASSWORD")
    container = sleeper("migrate", db)
    task = OneOffDef(service="api", name="migrate", container=container, timeout=60.0)
    desired = test_run.desired().model_copy(update={"helper_image": BASE_IMAGE})
    engine.ensure_network(desired)
    name = "left-behind-run"
    labels = oneoff_labels(desired, task, "r1")
    keeper = delivery.prepare(client.api, desired, name, [container], values((db, CANARY)), labels)
    args = oneoff.create_args(client.api, desired, task, "r1", name)
    delivery.attach(args, name, container, values((db, CANARY)))
    client.api.start(client.api.create_container(**args)["Id"])
    assert client.api.inspect_container(keeper)["State"]["Running"]

    assert engine.remove_oneoffs(test_run.environment) == [name]  # the keeper is not a task
    env = f"dockyard.env={test_run.environment}"
    assert client.api.containers(all=True, filters={"label": env}) == []
    assert not (client.api.volumes(filters={"label": env}) or {}).get("Volumes")
