"""Fixtures for the engine tests: a real Docker Engine, a test image, and cleanup by label.

Everything a test makes carries ``dockyard.test-run=<id>`` and is removed by
that label when the test ends, whether it passed or not.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from dockyard.discovery import ingress_build
from dockyard.engines.docker import DockerEngine
from dockyard.engines.model import BuildRequest
from dockyard.errors import EngineUnreachable

from .support import BASE_IMAGE, TEST_RUN_LABEL, Run, build_once

IMAGES = Path(__file__).parent / "images"


@pytest.fixture(scope="session")
def engine() -> Iterator[DockerEngine]:
    """The engine the tests run against; the suite fails (not skips) without one."""
    engine = DockerEngine()
    problem: str | None = None
    try:
        engine.ping()
        engine.client.images.get(BASE_IMAGE)
    except EngineUnreachable as e:
        problem = f"the engine tests need a running Docker Engine: {e.message}\n{e.hint}"
    except docker.errors.ImageNotFound:
        problem = f"the engine tests build FROM {BASE_IMAGE}; create it with `make bootstrap`"
    if problem:  # outside the except block: the message alone says it all
        pytest.fail(problem, pytrace=False)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def client(engine: DockerEngine) -> docker.DockerClient:
    """docker-py, for the tests' own checks and cleanup."""
    return engine.client


def remove_labelled(client: docker.DockerClient, label: str) -> None:
    """Remove every container, network, volume and image carrying ``label``."""
    filters: dict[str, str | list[str] | bool] = {"label": label}
    for container in client.containers.list(all=True, filters=filters):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for network in client.networks.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
    for volume in client.volumes.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
    for image in client.images.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(str(image.id), force=True)


@pytest.fixture(scope="session")
def suite_run(client: docker.DockerClient) -> Iterator[str]:
    run = uuid.uuid4().hex[:8]
    yield run
    remove_labelled(client, f"{TEST_RUN_LABEL}={run}")


@pytest.fixture(scope="session")
def web_image(engine: DockerEngine, suite_run: str) -> str:
    """The test web server image, built once for the whole run; removed by label at the end."""
    tag = f"dockyard-test/web:{suite_run}"
    engine.build(
        BuildRequest(
            service="web",
            context=IMAGES / "web",
            dockerfile="Dockerfile",
            tag=tag,
            labels={TEST_RUN_LABEL: suite_run},
        ),
        lambda line: None,
    )
    return tag


@pytest.fixture(scope="session")
def ingress_image(engine: DockerEngine, suite_run: str) -> str:
    """The ingress image (Caddy), built once for the whole run; removed by label at the end."""
    return build_once(
        engine, ingress_build(BASE_IMAGE), f"dockyard-test/ingress:{suite_run}", suite_run
    )


@pytest.fixture
def test_run(client: docker.DockerClient) -> Iterator[Run]:
    run_id = uuid.uuid4().hex[:8]
    yield Run(id=run_id, environment=f"t-{run_id}", labels={TEST_RUN_LABEL: run_id})
    remove_labelled(client, f"{TEST_RUN_LABEL}={run_id}")
