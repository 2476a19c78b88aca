"""Volumes: created with labels, kept across task replacement, removed on request."""

from __future__ import annotations

import docker
import docker.errors
import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.errors import EngineError
from dockyard.plan.model import MountDef, volume_name

from .support import TEST_RUN_LABEL, Run, exec_in, service, web

pytestmark = pytest.mark.engine


def test_volume_survives_task_replacement_and_is_removed_on_request(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    data = volume_name(test_run.environment, "data")
    mounts = [MountDef(target="/data", volume=data), MountDef(target="/scratch", tmpfs=True)]
    v1 = service("db", web(web_image, "db", mounts=mounts, health=None))
    v2 = service("db", web(web_image, "db", mounts=mounts, health=None, env={"MESSAGE": "v2"}))
    desired = test_run.desired(v1, volumes=(data,))
    engine.ensure_network(desired)
    engine.ensure_volume(desired, data)
    engine.ensure_volume(desired, data)  # idempotent
    labels = client.volumes.get(data).attrs["Labels"]
    assert labels["dockyard.env"] == test_run.environment
    assert labels["dockyard.role"] == "volume"
    assert labels[TEST_RUN_LABEL] == test_run.id

    first = engine.start_task(desired, v1, 0, "r1")
    code, out = exec_in(client, first.containers[0].id, "sh", "-c", "echo kept > /data/file")
    assert code == 0, out
    code, out = exec_in(
        client, first.containers[0].id, "sh", "-c", "grep -c ' /scratch tmpfs' /proc/mounts"
    )
    assert out.strip() == "1", out
    engine.remove_task(first)

    second = engine.start_task(test_run.desired(v2, volumes=(data,)), v2, 0, "r2")
    assert second.task != first.task
    code, out = exec_in(client, second.containers[0].id, "cat", "/data/file")
    assert (code, out) == (0, "kept\n")

    assert engine.observe(test_run.environment).volumes == [data]
    with pytest.raises(EngineError, match="still uses it"):
        engine.remove_volume(data)
    engine.remove_task(second)
    engine.remove_volume(data)
    engine.remove_volume(data)  # idempotent
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(data)
    assert engine.observe(test_run.environment).volumes == []


def test_a_volume_named_in_a_mount_is_created_with_labels(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    cache = volume_name(test_run.environment, "cache")
    api = service("api", web(web_image, "api", mounts=[MountDef(target="/cache", volume=cache)]))
    desired = test_run.desired(api)
    engine.ensure_network(desired)

    engine.start_task(desired, api, 0, "r1")

    assert client.volumes.get(cache).attrs["Labels"][TEST_RUN_LABEL] == test_run.id
