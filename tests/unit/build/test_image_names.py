"""Whose images they are: the project of an environment repo, image names and labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from dockyard.build.cleanup import selection
from dockyard.build.naming import (
    env_repository,
    folder_project,
    image_labels,
    local_project,
    project_of,
)
from dockyard.build.versions import SourceVersion
from dockyard.errors import SpecErrors
from dockyard.spec import load_environment
from dockyard.spec.environment import EnvironmentSpec
from dockyard.spec.loaded import LoadedEnvironment

COMMIT = "3f9c2a1b7d4e" + "0" * 28


def environment(repo: Path, name: str = "staging", **spec: object) -> LoadedEnvironment:
    return LoadedEnvironment(
        name=name,
        repo=repo,
        path=repo / "environments" / f"{name}.yaml",
        spec=EnvironmentSpec.model_validate(spec),
    )


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("platform", "platform"),
        ("Shop Platform_v2", "shop-platform-v2"),
        ("--Ops..", "ops"),
        ("ünïcode", "n-code"),
        ("...", "project"),
        ("x" * 80, "x" * 55),
    ],
)
def test_the_folder_name_becomes_a_repository_path_component(
    tmp_path: Path, folder: str, expected: str
) -> None:
    assert folder_project(tmp_path / folder) == expected
    assert EnvironmentSpec.model_validate({"project": expected}).project == expected


def test_two_repos_with_the_same_folder_name_get_different_local_projects(
    tmp_path: Path,
) -> None:
    one, two = tmp_path / "a" / "platform", tmp_path / "b" / "platform"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    (tmp_path / "link").symlink_to(one)

    assert local_project(one) != local_project(two)
    assert re.fullmatch(r"platform-[0-9a-f]{8}", local_project(one))
    # The same folder, however it is reached, is the same project.
    assert local_project(one) == local_project(tmp_path / "link")
    assert local_project(one) == local_project(two / ".." / ".." / "a" / "platform")


def test_local_names_carry_the_path_hash_registry_names_the_folder_only(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "platform"
    local = environment(repo)
    shipped = environment(repo, registry={"url": "registry.internal:5000/team"})

    assert project_of(local) == local_project(repo)
    assert env_repository(local, "api") == f"dockyard/{local_project(repo)}/api"
    assert project_of(shipped) == "platform"
    assert env_repository(shipped, "api") == "registry.internal:5000/team/platform/api"


def test_an_explicit_project_names_every_image(tmp_path: Path) -> None:
    local = environment(tmp_path / "platform", project="shop")
    shipped = environment(tmp_path / "platform", project="shop", registry={"url": "reg:5000"})

    assert env_repository(local, "api") == "dockyard/shop/api"
    assert env_repository(shipped, "db") == "reg:5000/shop/db"


@pytest.mark.parametrize("bad", ["Shop", "shop/api", "-shop", "shop--api", "shop.", "", "a" * 65])
def test_a_project_must_be_one_repository_path_component(bad: str) -> None:
    with pytest.raises(ValidationError):
        EnvironmentSpec.model_validate({"project": bad})


def test_a_bad_project_in_the_file_is_reported_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "local.yaml").write_text("engine: {kind: docker}\nproject: Shop\n")

    with pytest.raises(SpecErrors) as raised:
        load_environment(tmp_path, "local")

    (problem,) = raised.value.errors
    assert problem.location is not None and problem.location.line == 2
    assert "project" in str(problem)


def test_labels_say_whose_image_it_is_and_what_it_was_built_from(tmp_path: Path) -> None:
    env = environment(tmp_path / "platform", project="shop", labels={"team": "web"})
    clean = SourceVersion(commit="f" * 40, dirty=False, tag="f" * 12, last_commit=COMMIT)
    outside = SourceVersion(commit=None, dirty=True, tag="nogit-0123456789ab")

    assert image_labels(env, "api", clean) == {
        "team": "web",
        "dockyard.project": "shop",
        "dockyard.env": "staging",
        "dockyard.service": "api",
        "dockyard.commit": COMMIT,
        "dockyard.dirty": "false",
    }
    assert "dockyard.commit" not in image_labels(env, "api", outside)
    assert image_labels(env, "api", outside)["dockyard.dirty"] == "true"


def test_an_environment_picks_its_own_labels_and_names_only(tmp_path: Path) -> None:
    env = environment(tmp_path / "platform", project="shop", registry={"url": "reg:5000/t"})
    used = {
        "reg:5000/t/shop/api@sha256:" + "a" * 64,
        "reg:5000/t/other/api@sha256:" + "b" * 64,
        "reg:5000/t/shopping/api@sha256:" + "c" * 64,
        "dockyard/base:bookworm",
        "sha256:" + "d" * 64,
    }

    picked = selection(env, used)

    assert picked.labels == {"dockyard.project": "shop", "dockyard.env": "staging"}
    assert picked.namespace == "reg:5000/t/shop"
    assert picked.refs == {"reg:5000/t/shop/api@sha256:" + "a" * 64}
