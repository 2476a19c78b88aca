"""Build once, ship by digest, record, roll back, promote — through the CLI, against a
real registry (htpasswd logins) and the real engine."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from tests.acceptance.conftest import (
    Example,
    add_environment,
    labelled,
    make_example,
    remove_by_label,
    wait_for,
)
from tests.fixtures.registry import RegistryServer, registry, second_registry

__all__ = ["registry", "second_registry"]  # fixtures used by this module

pytestmark = pytest.mark.acceptance

PASSWORD_ENV = "DOCKYARD_TEST_REGISTRY_PASSWORD"


def registry_settings(server: RegistryServer, namespace: str) -> dict[str, object]:
    return {
        "url": f"{server.url}/{namespace}",
        "username": server.username,
        "password_env": PASSWORD_ENV,
    }


def running_images(env: str, service: str) -> set[str]:
    client = docker.from_env()
    found = {
        str(c.attrs["Config"]["Image"])
        for c in client.containers.list(
            filters={
                "label": [
                    f"dockyard.env={env}",
                    f"dockyard.service={service}",
                    "dockyard.role=main",
                ]
            }
        )
    }
    client.close()
    return found


def untag(prefix: str) -> None:
    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(prefix):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(tag)
    client.close()


@pytest.fixture
def shipped(
    tmp_path: Path, registry: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Example]:
    """The example in git, in an environment with a registry, not yet released."""
    monkeypatch.setenv(PASSWORD_ENV, registry.password)
    ex = make_example(tmp_path, in_git=True)
    ex.edit_env(registry=registry_settings(registry, ex.env), lock={"lease": "3s"})
    ex.commit("registry")
    try:
        yield ex
    finally:
        ex.dockyard("down", ex.env, "--volumes", check=False)
        remove_by_label(ex.run_id)
        untag(f"{registry.url}/{ex.env}/")


def history(ex: Example) -> list[dict[str, object]]:
    data: list[dict[str, object]] = ex.dockyard("history", ex.env, "--json").json()
    return data


def digests(release: dict[str, object]) -> dict[str, str]:
    services = release["services"]
    assert isinstance(services, list)
    return {s["name"]: s["image"] for s in services}


def test_release_runs_by_digest_records_and_rolls_back(
    shipped: Example, registry: RegistryServer
) -> None:
    ex = shipped
    head = ex.commit("release 1")
    ex.dockyard("release", ex.env)
    (first,) = history(ex)
    assert first["status"] == "succeeded" and first["kind"] == "deploy"
    recorded = digests(first)
    for service in ("api", "worker", "web", "db"):
        (image,) = running_images(ex.env, service)
        assert image == recorded[service]
        # <registry url>/<project>/<service>; the project is the repo folder's name.
        assert image.startswith(f"{registry.url}/{ex.env}/platform/{service}@sha256:")
    api = next(s for s in first["services"] if s["name"] == "api")  # type: ignore[union-attr]
    assert api["commit"] == head and api["dirty"] is False
    assert f":{head[:12]}" in ex.dockyard("build", ex.env, "api").out

    # A new commit of the api: only the api changes, by a new digest.
    api_py = ex.service_dir("api") / "api.py"
    api_py.write_text(api_py.read_text() + "\n# release 2\n")
    ex.commit("release 2")
    ex.dockyard("release", ex.env)
    second = history(ex)[0]
    assert second["number"] == 2
    assert digests(second)["api"] != recorded["api"]
    assert running_images(ex.env, "api") == {digests(second)["api"]}
    assert running_images(ex.env, "web") == {recorded["web"]}

    # Roll back: exactly the digests release 1 recorded, without a build.
    run = ex.dockyard("rollback", ex.env)
    assert "building" not in run.err
    third = history(ex)[0]
    assert (third["kind"], third["source"], third["status"]) == ("rollback", "#1", "succeeded")
    assert running_images(ex.env, "api") == {recorded["api"]}
    wait_for(lambda: httpx.get(f"{ex.url}/api/items").status_code == 200, what="the app")


def test_repushed_tag_changes_nothing_that_runs(shipped: Example, registry: RegistryServer) -> None:
    ex = shipped
    ex.dockyard("release", ex.env, "api", "db")
    (running,) = running_images(ex.env, "api")
    tag = ex.dockyard("build", ex.env, "api").out.split()[1]  # <repo>:<commit tag>

    # Someone pushes other content under the same tag.
    client = docker.from_env()
    other = client.images.build(
        fileobj=io.BytesIO(b"FROM dockyard/base:bookworm\nRUN echo other > /other\n"),
        labels={"dockyard.test-run": ex.run_id},
    )[0]
    repo, _, version = tag.rpartition(":")
    other.tag(repo, version)
    client.images.push(
        repo, version, auth_config={"username": registry.username, "password": registry.password}
    )
    client.close()

    assert running_images(ex.env, "api") == {running}
    # What runs is named by digest; the tag is never trusted. The sources did not
    # change, so a plan and a release see nothing to do.
    plan = ex.dockyard("plan", ex.env, "api", "--detailed-exitcode", check=False)
    assert plan.code == 0, plan.out + plan.err
    assert "No changes" in ex.dockyard("release", ex.env, "api").out
    assert running_images(ex.env, "api") == {running}
    digest = running.partition("@")[2]
    manifest = httpx.head(
        f"{registry.base_url}/v2/{ex.env}/platform/api/manifests/{digest}",
        auth=registry.auth(),
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert manifest.status_code == 200, "the digest that runs is still in the registry"


def test_bad_registry_credentials_are_explained_and_change_nothing(
    shipped: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex = shipped
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password-42")
    run = ex.dockyard("release", ex.env, check=False)
    assert run.code == 1
    assert "DY411" in run.err and PASSWORD_ENV in run.err
    assert "not-the-password-42" not in run.out + run.err
    assert labelled("containers", ex.env) == []
    assert history(ex) == []


def test_promote_deploys_the_same_digests_without_building(
    shipped: Example, second_registry: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging = shipped
    staging.dockyard("release", staging.env)
    prod = add_environment(staging, f"{staging.env}p")
    monkeypatch.setenv("DOCKYARD_TEST_PROD_PASSWORD", second_registry.password)
    settings = registry_settings(second_registry, prod.env)
    settings["password_env"] = "DOCKYARD_TEST_PROD_PASSWORD"
    prod.edit_env(registry=settings)
    try:
        prod.dockyard("release", prod.env, "db")  # the environment's own accessory
        run = prod.dockyard("promote", "--from", staging.env, "--to", prod.env)
        assert "building" not in run.err
        promoted = history(prod)[0]
        assert promoted["kind"] == "promote" and promoted["source"] == f"{staging.env}#1"
        source = digests(history(staging)[0])
        for service in ("api", "worker", "web"):
            (image,) = running_images(prod.env, service)
            assert image.startswith(f"{second_registry.url}/{prod.env}/platform/{service}@")
            assert image.partition("@")[2] == source[service].partition("@")[2]
        wait_for(lambda: httpx.get(f"{prod.url}/api/items").status_code == 200, what="prod")
    finally:
        prod.dockyard("down", prod.env, "--volumes", check=False)
        untag(f"{second_registry.url}/{prod.env}/")


def test_killed_after_push_the_next_release_converges(shipped: Example) -> None:
    ex = shipped
    ex.dockyard("release", ex.env)
    (before,) = running_images(ex.env, "api")
    api_py = ex.service_dir("api") / "api.py"
    api_py.write_text(api_py.read_text() + "\n# pushed, then killed\n")
    ex.commit("v2")

    proc = ex.popen("release", ex.env)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "pushed" in line and " api " in line:
            proc.kill()
            break
    proc.wait(timeout=30)
    assert proc.returncode == -9, "the release ended before it pushed the api"
    assert running_images(ex.env, "api") == {before}  # nothing changed yet
    wait_for(lambda: httpx.get(f"{ex.url}/api/items").status_code == 200, what="the app")

    ex.dockyard("release", ex.env, "--wait", "60")  # waits out the dead holder's lease
    latest = history(ex)[0]
    assert latest["status"] == "succeeded"
    (after,) = running_images(ex.env, "api")
    assert after == digests(latest)["api"] != before
