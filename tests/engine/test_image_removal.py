"""Removing one owner's images: by label and by the exact names it ran, name by name,
never an image a container uses, never another owner's name."""

from __future__ import annotations

import secrets
from pathlib import Path

import docker
import docker.errors

from dockyard.engines.docker import DockerEngine
from dockyard.engines.model import BuildRequest, ImageSelection

from .support import BASE_IMAGE, TEST_RUN_LABEL, Run


def scratch(
    engine: DockerEngine, run: Run, tmp_path: Path, tag: str, labels: dict[str, str]
) -> str:
    """A one-file ``FROM scratch`` image of its own content, named ``tag``; its ID."""
    context = tmp_path / f"ctx-{secrets.token_hex(4)}"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY content /content\n")
    (context / "content").write_text(f"{tag} {run.id}\n")
    request = BuildRequest(
        service="x",
        context=context,
        dockerfile="Dockerfile",
        tag=tag,
        labels={TEST_RUN_LABEL: run.id, **labels},
    )
    return engine.build(request, lambda line: None)


def names(client: docker.DockerClient, image_id: str) -> set[str] | None:
    """The tags and digests of ``image_id``; None when the image is gone."""
    try:
        attrs = client.api.inspect_image(image_id)
    except docker.errors.NotFound:
        return None
    return {*(attrs.get("RepoTags") or []), *(attrs.get("RepoDigests") or [])}


def test_the_owners_images_and_names_go_and_nothing_else(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, tmp_path: Path
) -> None:
    project = f"p{test_run.id}"
    ns = f"dockyard/{project}"
    ours = {"dockyard.project": project, "dockyard.env": "staging"}
    theirs = {"dockyard.project": project, "dockyard.env": "prod"}

    built = scratch(engine, test_run, tmp_path, f"{ns}/api:1", ours)
    dangling = scratch(engine, test_run, tmp_path, f"{ns}/api:old", ours)
    engine.tag(built, f"{ns}/api", "old")  # the older build keeps no name
    shared = scratch(engine, test_run, tmp_path, f"{ns}/web:1", ours)
    engine.tag(shared, f"other{test_run.id}/web", "1")  # someone else's name for it
    in_use = scratch(engine, test_run, tmp_path, f"{ns}/worker:1", ours)
    container = client.api.create_container(
        in_use, command=["/content"], labels={TEST_RUN_LABEL: test_run.id}
    )
    other_env = scratch(engine, test_run, tmp_path, f"{ns}/api:prod", theirs)
    pulled = scratch(engine, test_run, tmp_path, f"{ns}/db:1", {})
    unnamed = scratch(engine, test_run, tmp_path, f"{ns}/cache:1", {})
    base = engine.image_id(BASE_IMAGE)
    assert base is not None

    removed = engine.remove_images(
        ImageSelection(labels=ours, namespace=ns, refs=frozenset({f"{ns}/db:1"}))
    )

    by_id = {r.image_id: r for r in removed}
    assert set(by_id) == {built, dangling, shared, in_use, pulled}
    assert names(client, built) is None
    assert sorted(by_id[built].names) == [f"{ns}/api:1", f"{ns}/api:old"]
    assert names(client, dangling) is None and by_id[dangling].deleted
    assert names(client, pulled) is None and by_id[pulled].deleted
    # Another owner's name keeps the image.
    assert names(client, shared) == {f"other{test_run.id}/web:1"}
    assert not by_id[shared].deleted and by_id[shared].names == [f"{ns}/web:1"]
    # An image a container uses is left as it was, and the note names the container.
    assert names(client, in_use) == {f"{ns}/worker:1"}
    note = by_id[in_use].note or ""
    name = client.api.inspect_container(container["Id"])["Name"].lstrip("/")
    assert name in note and by_id[in_use].kept == [f"{ns}/worker:1"]
    # Another environment's build, a name nobody listed, and the base image stay.
    assert names(client, other_env) == {f"{ns}/api:prod"}
    assert names(client, unnamed) == {f"{ns}/cache:1"}
    assert engine.image_id(BASE_IMAGE) == base

    client.api.remove_container(container["Id"])
    (again,) = engine.remove_images(ImageSelection(labels=ours, namespace=ns))
    assert again.image_id == in_use and again.deleted and names(client, in_use) is None
