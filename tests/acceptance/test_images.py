"""Images that belong to someone: two copies of the example environment repo, each with
a service ``api`` and an environment of the same name, build images named and
labelled apart, and ``down --images`` removes one copy's images only."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.acceptance.conftest import TEST_LABEL, Example, make_example, remove_by_label

pytestmark = pytest.mark.acceptance

BASE_IMAGE = "dockyard/base:bookworm"
LOCAL_NAME = re.compile(r"dockyard/(platform-[0-9a-f]{8})/api:nogit-[0-9a-f]{12}")


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def copies(tmp_path: Path) -> Iterator[tuple[Example, Example]]:
    """Two copies of the example in different folders, one environment name for both."""
    env = f"img{secrets.token_hex(3)}"
    one = make_example(tmp_path / "one", env)
    two = make_example(tmp_path / "two", env)
    try:
        yield one, two
    finally:
        for ex in (one, two):
            remove_by_label(ex.run_id)


def built_api(client: docker.DockerClient, ex: Example) -> tuple[str, str, dict[str, str]]:
    """The tag, ID and labels of the one api image the copy built."""
    (image,) = client.images.list(
        filters={"label": [f"{TEST_LABEL}={ex.run_id}", "dockyard.service=api"]}
    )
    (tag,) = image.tags
    return tag, str(image.id), dict(image.labels)


def present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.mark.fault
def test_two_environment_repos_name_label_and_remove_their_images_apart(
    copies: tuple[Example, Example], client: docker.DockerClient
) -> None:
    one, two = copies
    for ex in copies:
        ex.dockyard("build", ex.env, "api")
    tag_one, id_one, labels_one = built_api(client, one)
    tag_two, id_two, labels_two = built_api(client, two)

    # Different names, and `docker inspect` says whose each one is.
    match_one, match_two = LOCAL_NAME.fullmatch(tag_one), LOCAL_NAME.fullmatch(tag_two)
    assert match_one and match_two, (tag_one, tag_two)
    assert tag_one != tag_two and id_one != id_two
    for labels, match in ((labels_one, match_one), (labels_two, match_two)):
        assert labels["dockyard.project"] == match.group(1)
        assert labels["dockyard.env"] == one.env
        assert labels["dockyard.service"] == "api"
        assert labels["dockyard.dirty"] == "true"  # the copies are not in git

    # Without --images, down leaves the images as they are.
    assert one.env in one.dockyard("down", one.env).out
    assert present(client, tag_one) and present(client, tag_two)

    # An image a container still uses is left, with a note naming the container.
    container = client.containers.create(id_one, labels={TEST_LABEL: one.run_id})
    try:
        kept = one.dockyard("down", one.env, "--images").out
        assert f"kept {tag_one}" in kept and container.name in kept, kept
        assert present(client, tag_one)
    finally:
        container.remove()

    removed = one.dockyard("down", one.env, "--images").out
    assert f"removed {tag_one}" in removed, removed
    assert "Removed 1 images" in removed
    assert not present(client, id_one)
    # The other copy's image, of an environment of the same name, and the base image stay.
    assert present(client, tag_two) and client.images.get(tag_two).id == id_two
    assert present(client, BASE_IMAGE)
    assert tag_two not in removed
