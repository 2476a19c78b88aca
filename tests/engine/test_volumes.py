"""Volumes: created with labels, kept across task replacement, removed on request."""

from __future__ import annotations

import docker
import docker.errors
import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.errors import DeployError, EngineError
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


@pytest.mark.fault
def test_a_second_writer_on_a_data_volume_is_refused_readers_and_shared_are_not(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    data = volume_name(test_run.environment, "data")
    writer = MountDef(target="/data", volume=data)
    db = service("db", web(web_image, "db", mounts=[writer], health=None))
    other = service("other", web(web_image, "other", mounts=[writer], health=None))
    reader = service(
        "reader",
        web(
            web_image, "reader", mounts=[writer.model_copy(update={"read_only": True})], health=None
        ),
    )
    desired = test_run.desired(db, other, reader, volumes=(data,))
    engine.ensure_network(desired)
    first = engine.start_task(desired, db, 0, "r1")

    with pytest.raises(DeployError, match=f"volume {data} is in use by the running container"):
        engine.start_task(desired, other, 0, "r1")
    # Nothing of the refused task was made.
    names = {
        c.name
        for c in client.containers.list(
            all=True, filters={"label": f"dockyard.env={test_run.environment}"}
        )
    }
    assert not [n for n in names if "-other-" in n], names
    # A reader does not write, so it may run beside the writer.
    engine.start_task(desired, reader, 0, "r1")
    # Once the writer is gone, another may start.
    engine.remove_task(first)
    engine.start_task(desired, other, 0, "r1")


def test_mounts_marked_shared_may_be_written_together(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    data = volume_name(test_run.environment, "cache")
    shared = MountDef(target="/cache", volume=data, shared=True)
    one = service("one", web(web_image, "one", mounts=[shared], health=None))
    two = service("two", web(web_image, "two", mounts=[shared], health=None))
    desired = test_run.desired(one, two, volumes=(data,))
    engine.ensure_network(desired)
    engine.start_task(desired, one, 0, "r1")
    engine.start_task(desired, two, 0, "r1")
    assert len(engine.observe(test_run.environment).tasks) == 2
