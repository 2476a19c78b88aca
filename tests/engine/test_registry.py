"""Shipping images through a real private registry (``docker-registry`` on 127.0.0.1 with
htpasswd logins): push by digest, run by digest, credentials, re-pushed tags, and
copies between two registries."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors
import httpx
import pytest

from dockyard.build.credentials import auth_config
from dockyard.build.images import BuiltImage
from dockyard.build.registry import copy_image, digest_ref, ensure_image, push
from dockyard.build.registry_api import MANIFEST_TYPES, has_manifest, manifest_digest
from dockyard.build.versions import SourceVersion
from dockyard.engines.docker import DockerEngine
from dockyard.engines.model import BuildRequest, ImageSelection
from dockyard.errors import DigestMismatch, MissingCredentials, NotInRegistry, RegistryAuthError
from dockyard.spec.environment import RegistryConfig

from .support import TEST_RUN_LABEL, Run, service, web

if TYPE_CHECKING:  # the module is loaded as a plugin, below, so that pytest rewrites its asserts
    from tests.fixtures.registry import RegistryServer

pytestmark = pytest.mark.engine
pytest_plugins = ["tests.fixtures.registry"]

UNKNOWN_DIGEST = "sha256:" + "0" * 64
VERSION = SourceVersion(commit=None, dirty=True, tag="test")
PROJECT = "tests"
"""The project of the test images: ``<registry>/tests/<name>``."""


@pytest.fixture
def refs(client: docker.DockerClient) -> Iterator[list[str]]:
    """Names a test gave images (tags, digests); untagged at the end. The images
    themselves carry the test run's label and go with it."""
    made: list[str] = []
    yield made
    for ref in reversed(made):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.remove(ref)


def scratch_image(
    engine: DockerEngine, run: Run, tmp_path: Path, repository: str, tag: str, content: str
) -> BuiltImage:
    """A one-file ``FROM scratch`` image named ``repository:tag``, labelled for cleanup;
    ``repository`` ends in ``<project>/<service>``."""
    context = tmp_path / f"ctx-{secrets.token_hex(4)}"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY content /content\n")
    (context / "content").write_text(f"{content} {run.id}\n")
    image_id = engine.build(
        BuildRequest(
            service=repository.rsplit("/", 1)[-1],
            context=context,
            dockerfile="Dockerfile",
            tag=f"{repository}:{tag}",
            labels={TEST_RUN_LABEL: run.id},
        ),
        lambda line: None,
    )
    project, service = repository.split("/")[-2:]
    return BuiltImage(service, image_id, repository, tag, VERSION, project)


def name_for(run: Run, what: str) -> str:
    return f"{what}-{run.id}"


def get_manifest(server: RegistryServer, name: str, reference: str) -> httpx.Response:
    response = httpx.get(
        f"{server.base_url}/v2/{name}/manifests/{reference}",
        auth=server.auth(),
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
        timeout=10,
    )
    response.raise_for_status()
    return response


# ------------------------------------------------------------------ push


def test_push_returns_the_digest_the_registry_serves(
    engine: DockerEngine,
    test_run: Run,
    tmp_path: Path,
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    config = registry.config(monkeypatch)
    name = f"{PROJECT}/{name_for(test_run, 'app')}"
    built = scratch_image(engine, test_run, tmp_path, f"{registry.url}/{name}", "v1", "one")
    refs.append(built.ref)
    lines: list[str] = []

    digest = push(engine, built, config, lines.append)

    assert digest.startswith("sha256:") and len(digest) == len(UNKNOWN_DIGEST)
    served = get_manifest(registry, name, "v1")
    assert served.headers["Docker-Content-Digest"] == digest
    assert "sha256:" + hashlib.sha256(served.content).hexdigest() == digest
    assert has_manifest(config, name, digest)
    assert manifest_digest(config, name, "v1") == digest
    assert any("Pushed" in line for line in lines), lines
    assert engine.image_present(digest_ref(built.repository, digest))


def test_has_manifest_is_false_for_an_unknown_digest_or_repository(
    registry: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = registry.config(monkeypatch)
    assert not has_manifest(config, "dockyard-never-pushed", UNKNOWN_DIGEST)
    assert manifest_digest(config, "dockyard-never-pushed", "v1") is None


def test_push_into_a_namespace_of_the_registry(
    engine: DockerEngine,
    test_run: Run,
    tmp_path: Path,
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    config = registry.config(monkeypatch, namespace="team")
    # Built under a local name: push tags it into <registry>/<namespace>/<project>/<service>.
    built = scratch_image(
        engine, test_run, tmp_path, f"dockyard/{PROJECT}/{test_run.id}", "v1", "ns"
    )
    name = f"{PROJECT}/{built.service}"
    refs += [built.ref, f"{registry.url}/team/{name}:v1"]

    digest = push(engine, built, config, lambda line: None)

    assert has_manifest(config, name, digest)
    assert get_manifest(registry, f"team/{name}", "v1").headers["Docker-Content-Digest"] == (digest)


def test_the_pushed_image_runs_by_digest(
    engine: DockerEngine,
    client: docker.DockerClient,
    web_image: str,
    refs: list[str],  # before test_run: untagged after its containers are gone
    test_run: Run,
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = registry.config(monkeypatch)
    name = name_for(test_run, "web")
    repository = f"{registry.url}/{PROJECT}/{name}"
    image_id = engine.image_id(web_image)
    assert image_id is not None
    engine.tag(image_id, repository, "v1")
    refs.append(f"{repository}:v1")
    built = BuiltImage(name, image_id, repository, "v1", VERSION, PROJECT)
    digest = push(engine, built, config, lambda line: None)
    ref = digest_ref(repository, digest)
    refs.append(ref)
    # Forget every name the registry gave the image here: the engine must pull by digest.
    client.images.remove(f"{repository}:v1")  # its digest goes with the repository's last tag
    if engine.image_present(ref):
        client.images.remove(ref)
    assert not engine.image_present(ref)
    assert engine.image_present(web_image)
    lines: list[str] = []

    pulled = ensure_image(engine, ref, auth_config(config), lines.append)

    assert pulled == image_id
    assert any(digest in line for line in lines), lines
    assert ensure_image(engine, ref, None, lambda line: None) == image_id  # present: no pull
    desired = test_run.desired(service("web", web(ref)))
    engine.ensure_network(desired)
    task = engine.start_task(desired, desired.services[0], 1, "r1")
    engine.wait_ready(task, 30, lambda line: None)
    info = client.api.inspect_container(task.containers[0].id)
    assert info["Config"]["Image"] == ref
    assert info["Image"] == image_id


# ------------------------------------------------------------------ credentials


def test_bad_credentials_are_refused_without_showing_the_password(
    engine: DockerEngine,
    test_run: Run,
    tmp_path: Path,
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    wrong = f"wrong-{secrets.token_hex(8)}"
    config = registry.config(monkeypatch, "DOCKYARD_TEST_BAD_PASSWORD", password=wrong)
    built = scratch_image(
        engine,
        test_run,
        tmp_path,
        f"{registry.url}/{PROJECT}/{name_for(test_run, 'bad')}",
        "v1",
        "x",
    )
    refs.append(built.ref)

    with pytest.raises(RegistryAuthError) as raised:
        push(engine, built, config, lambda line: None)
    with pytest.raises(RegistryAuthError) as raised_api:
        has_manifest(config, built.service, UNKNOWN_DIGEST)

    for error in (raised.value, raised_api.value):
        assert error.code == "DY411"
        text = f"{error.message}\n{error.hint}"
        assert wrong not in text and registry.password not in text
        assert "DOCKYARD_TEST_BAD_PASSWORD" in text and registry.username in text
    assert "unauthorized" in raised.value.message


def test_a_missing_password_variable_is_named(
    engine: DockerEngine,
    test_run: Run,
    tmp_path: Path,
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    variable = f"DOCKYARD_TEST_UNSET_{test_run.id.upper()}"
    monkeypatch.delenv(variable, raising=False)
    config = RegistryConfig(url=registry.url, username=registry.username, password_env=variable)
    built = scratch_image(
        engine,
        test_run,
        tmp_path,
        f"{registry.url}/{PROJECT}/{name_for(test_run, 'nopw')}",
        "v1",
        "x",
    )
    refs.append(built.ref)

    with pytest.raises(MissingCredentials) as raised:
        push(engine, built, config, lambda line: None)
    with pytest.raises(MissingCredentials):
        has_manifest(config, built.service, UNKNOWN_DIGEST)

    error = raised.value
    assert error.code == "DY412"
    assert variable in error.message and "is not set" in error.message
    assert error.hint is not None and variable in error.hint


def test_pulling_an_unknown_digest_says_it_is_not_in_the_registry(
    engine: DockerEngine, registry: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = registry.config(monkeypatch)
    ref = digest_ref(f"{registry.url}/dockyard-never-pushed", UNKNOWN_DIGEST)
    with pytest.raises(NotInRegistry) as raised:
        ensure_image(engine, ref, auth_config(config), lambda line: None)
    assert raised.value.code == "DY414"
    assert "manifest unknown" in raised.value.message


# ------------------------------------------------------------------ digests stay


def test_a_repushed_tag_gets_a_new_digest_and_the_old_one_still_resolves(
    engine: DockerEngine,
    client: docker.DockerClient,
    test_run: Run,
    tmp_path: Path,
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    config = registry.config(monkeypatch)
    name = f"{PROJECT}/{name_for(test_run, 'moving')}"
    repository = f"{registry.url}/{name}"
    old = scratch_image(engine, test_run, tmp_path, repository, "same", "old")
    old_digest = push(engine, old, config, lambda line: None)
    new = scratch_image(engine, test_run, tmp_path, repository, "same", "new")
    refs += [new.ref, digest_ref(repository, old_digest)]
    new_digest = push(engine, new, config, lambda line: None)

    assert new_digest != old_digest
    assert manifest_digest(config, name, "same") == new_digest
    assert has_manifest(config, name, old_digest)
    # What runs by the old digest is still the old image, even pulled afresh.
    client.images.remove(old.image_id, force=True)
    pulled = ensure_image(
        engine, digest_ref(repository, old_digest), auth_config(config), lambda line: None
    )
    assert pulled == old.image_id


def test_an_image_pulled_by_digest_is_removed_by_that_digest_only(
    engine: DockerEngine,
    client: docker.DockerClient,
    test_run: Run,
    tmp_path: Path,
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    config = registry.config(monkeypatch)
    name = f"{PROJECT}/{name_for(test_run, 'pulled')}"
    repository = f"{registry.url}/{name}"
    built = scratch_image(engine, test_run, tmp_path, repository, "v1", "pulled")
    ref = digest_ref(repository, push(engine, built, config, lambda line: None))
    client.images.remove(built.image_id, force=True)
    ensure_image(engine, ref, auth_config(config), lambda line: None)  # as a rollback does
    other = scratch_image(engine, test_run, tmp_path, repository, "v2", "other")
    refs += [ref, other.ref]

    # Not labelled for the owner: only the exact name it ran goes.
    labels = {"dockyard.project": f"p{test_run.id}", "dockyard.env": "staging"}
    selection = ImageSelection(labels, f"{registry.url}/{PROJECT}", frozenset({ref}))
    (removed,) = engine.remove_images(selection)

    assert removed.image_id == built.image_id and removed.deleted
    assert removed.names == [ref]
    assert not engine.image_present(ref)
    assert engine.image_id(other.ref) == other.image_id


# ------------------------------------------------------------------ copies


def test_a_copy_between_registries_keeps_the_digest_and_is_done_once(
    engine: DockerEngine,
    client: docker.DockerClient,
    test_run: Run,
    tmp_path: Path,
    registry: RegistryServer,
    second_registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    source = registry.config(monkeypatch, "DOCKYARD_TEST_SOURCE_PASSWORD")
    dest = second_registry.config(monkeypatch, "DOCKYARD_TEST_DEST_PASSWORD")
    name = f"{PROJECT}/{name_for(test_run, 'promoted')}"
    built = scratch_image(engine, test_run, tmp_path, f"{registry.url}/{name}", "v1", "copy")
    digest = push(engine, built, source, lambda line: None)
    source_ref = digest_ref(built.repository, digest)
    copy_tag = f"sha256-{digest.removeprefix('sha256:')[:12]}"
    refs += [source_ref, f"{second_registry.url}/{name}:{copy_tag}"]
    client.images.remove(built.image_id, force=True)  # the copy has to pull it first
    lines: list[str] = []

    copied = copy_image(engine, source_ref, auth_config(source), dest, name, lines.append)

    assert copied == digest
    assert has_manifest(dest, name, digest)
    assert get_manifest(second_registry, name, copy_tag).headers["Docker-Content-Digest"] == digest
    assert any("Pulling" in line or digest in line for line in lines), lines

    def no_push(*args: object) -> str:
        raise AssertionError("copied again")

    monkeypatch.setattr(engine, "push", no_push)
    monkeypatch.setattr(engine, "pull", no_push)
    again: list[str] = []
    assert copy_image(engine, source_ref, auth_config(source), dest, name, again.append) == digest
    assert again == [f"{second_registry.url}/{name}@{digest} is in {second_registry.url} already"]


def test_a_local_image_is_copied_by_pushing_it(
    engine: DockerEngine,
    test_run: Run,
    tmp_path: Path,
    second_registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    dest = second_registry.config(monkeypatch)
    name = f"{PROJECT}/{name_for(test_run, 'local')}"
    built = scratch_image(engine, test_run, tmp_path, f"dockyard/{name}", "abc", "local")
    refs += [built.ref, f"{second_registry.url}/{name}:abc"]

    digest = copy_image(engine, built.image_id, None, dest, name, lambda line: None, tag="abc")

    assert has_manifest(dest, name, digest)
    assert manifest_digest(dest, name, "abc") == digest


def test_a_copy_that_would_change_the_digest_is_refused(
    engine: DockerEngine,
    test_run: Run,
    tmp_path: Path,
    registry: RegistryServer,
    second_registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    refs: list[str],
) -> None:
    # This engine keeps digests across registries; the push is faked to report another
    # one, as a registry that rewrites manifests would.
    source = registry.config(monkeypatch, "DOCKYARD_TEST_SOURCE_PASSWORD")
    dest = second_registry.config(monkeypatch, "DOCKYARD_TEST_DEST_PASSWORD")
    name = f"{PROJECT}/{name_for(test_run, 'changed')}"
    built = scratch_image(engine, test_run, tmp_path, f"{registry.url}/{name}", "v1", "chg")
    digest = push(engine, built, source, lambda line: None)
    refs += [built.ref, digest_ref(built.repository, digest), f"{second_registry.url}/{name}:v1"]
    monkeypatch.setattr(engine, "push", lambda *args: UNKNOWN_DIGEST)

    with pytest.raises(DigestMismatch) as raised:
        copy_image(
            engine,
            digest_ref(built.repository, digest),
            auth_config(source),
            dest,
            name,
            lambda line: None,
            tag="v1",
        )
    assert raised.value.code == "DY413"
    assert "not be the same artifact" in raised.value.message


# ------------------------------------------------------------------ token auth


def test_token_auth_registries_get_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # No token-auth registry runs here; this fake answers as the distribution spec says.
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path} {request.headers.get('Authorization')}")
        if request.url.path == "/token":
            assert request.url.params["scope"] == "repository:team/api:pull"
            assert request.url.params["service"] == "registry.example"
            return httpx.Response(200, json={"token": "t0k3n"})
        if request.headers.get("Authorization") == "Bearer t0k3n":
            return httpx.Response(200, headers={"Docker-Content-Digest": UNKNOWN_DIGEST})
        return httpx.Response(
            401,
            headers={
                "WWW-Authenticate": 'Bearer realm="https://auth.example/token",'
                'service="registry.example",scope="repository:team/api:pull"'
            },
        )

    monkeypatch.setenv("DOCKYARD_TEST_TOKEN_PASSWORD", "pw")
    config = RegistryConfig(
        url="registry.example/team", username="ci", password_env="DOCKYARD_TEST_TOKEN_PASSWORD"
    )
    assert has_manifest(config, "api", UNKNOWN_DIGEST, transport=httpx.MockTransport(handle))
    assert seen[0].startswith(f"HEAD /v2/team/api/manifests/{UNKNOWN_DIGEST} Basic ")
    assert seen[1].startswith("GET /token Basic ")
    assert seen[2] == f"HEAD /v2/team/api/manifests/{UNKNOWN_DIGEST} Bearer t0k3n"
