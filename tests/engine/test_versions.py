"""Source versions from git, image names from them, and protected environments that
refuse images built from uncommitted sources. The git tests run real git in
temporary repos; the build tests build tiny ``FROM scratch`` images on the engine."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from dockyard import spec
from dockyard.build import versions
from dockyard.build.errors import DirtySource, SourceVersionError, UnknownImage
from dockyard.build.images import BuiltImage, build_environment
from dockyard.build.naming import local_project
from dockyard.build.versions import file_version, source_version, tree_hash
from dockyard.deploy.ship import ship
from dockyard.engines.docker import DockerEngine

from .support import TEST_RUN_LABEL, Run

pytestmark = pytest.mark.engine

GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY")


def git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in GIT_ENV_DROP}
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Dockyard Tests",
            "-c",
            "user.email=tests@dockyard.invalid",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "commit.gpgsign=false",
            "-C",
            str(repo),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.strip()


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    write(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


SERVICE_FILES = {
    "api/Dockerfile": "FROM scratch\nCOPY hello /hello\n",
    "api/hello": "hello\n",
    "api/params/prod.yaml": "replicas: 2\n",
    "worker/Dockerfile": "FROM scratch\nCOPY hello /hello\n",
    "worker/hello": "work\n",
}


# ------------------------------------------------------------------ versions


def test_a_clean_folder_is_tagged_with_the_short_commit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", SERVICE_FILES)
    head = git(repo, "rev-parse", "HEAD")

    version = source_version(repo / "api")

    assert version == versions.SourceVersion(
        commit=head, dirty=False, tag=head[:12], last_commit=head
    )


def test_the_last_commit_is_the_one_that_changed_the_folder(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", SERVICE_FILES)
    first = git(repo, "rev-parse", "HEAD")
    (repo / "worker" / "hello").write_text("later\n")
    git(repo, "commit", "-q", "-am", "only the worker")
    head = git(repo, "rev-parse", "HEAD")

    api, worker = source_version(repo / "api"), source_version(repo / "worker")

    assert (api.commit, api.last_commit, api.tag) == (head, first, head[:12])
    assert (worker.commit, worker.last_commit) == (head, head)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda api: (api / "hello").write_text("changed\n"), id="modified"),
        pytest.param(lambda api: (api / "new.txt").write_text("new\n"), id="untracked"),
        pytest.param(lambda api: (api / "hello").unlink(), id="deleted"),
    ],
)
def test_uncommitted_changes_make_the_folder_dirty(
    tmp_path: Path, change: Callable[[Path], Any]
) -> None:
    repo = make_repo(tmp_path / "repo", SERVICE_FILES)
    head = git(repo, "rev-parse", "HEAD")
    change(repo / "api")

    version = source_version(repo / "api")

    assert version.commit == head
    assert version.dirty
    assert version.tag == f"{head[:12]}-dirty"


def test_changes_in_another_folder_do_not_count(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", SERVICE_FILES)
    (repo / "worker" / "hello").write_text("changed\n")
    (repo / "stray.txt").write_text("untracked at the top\n")

    assert not source_version(repo / "api").dirty
    assert source_version(repo / "worker").dirty


def test_folder_names_are_not_patterns(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"svc*/hello": "a\n", "svc-other/hello": "b\n"})
    (repo / "svc-other" / "hello").write_text("changed\n")

    assert not source_version(repo / "svc*").dirty


def test_a_build_context_outside_the_folder_counts_too(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**SERVICE_FILES, "shared/lib.txt": "v1\n"})
    assert not source_version(repo / "api", repo / "shared").dirty

    (repo / "shared" / "lib.txt").write_text("v2\n")

    assert source_version(repo / "api", repo / "shared").dirty
    assert not source_version(repo / "api").dirty


def test_a_folder_outside_git_is_tagged_by_its_content(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, {"Dockerfile": "FROM scratch\n", "sub/file.txt": "one\n"})

    content = tree_hash(folder)
    first = source_version(folder)
    again = source_version(folder)
    (folder / "sub" / "file.txt").write_text("two\n")
    changed = source_version(folder)

    assert first == versions.SourceVersion(commit=None, dirty=True, tag=f"nogit-{content[:12]}")
    assert again == first
    assert changed.tag != first.tag


def test_the_content_hash_sees_names_and_executable_bits(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, {"run.sh": "echo hi\n"})
    plain = tree_hash(folder)
    (folder / "run.sh").chmod(0o755)
    executable = tree_hash(folder)
    (folder / "run.sh").rename(folder / "start.sh")

    assert len({plain, executable, tree_hash(folder)}) == 3


def test_a_repo_without_commits_and_an_ignored_folder_have_no_version(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    write(empty, {"Dockerfile": "FROM scratch\n"})
    repo = make_repo(tmp_path / "repo", {**SERVICE_FILES, ".gitignore": "scratch/\n"})
    write(repo, {"scratch/Dockerfile": "FROM scratch\n"})

    for folder in (empty, repo / "scratch"):
        version = source_version(folder)
        assert version.commit is None, folder
        assert version.dirty and version.tag.startswith("nogit-"), folder


def test_two_or_three_git_calls_per_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", SERVICE_FILES)
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(command: list[str], **kwargs: Any) -> Any:
        calls.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(versions.subprocess, "run", counting_run)
    source_version(repo / "api")
    clean_calls = len(calls)
    (repo / "api" / "hello").write_text("changed\n")
    calls.clear()
    source_version(repo / "api")

    assert clean_calls == 3
    assert len(calls) == 2


def test_a_file_has_the_version_of_the_last_commit_that_changed_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", SERVICE_FILES)
    params = repo / "api" / "params" / "prod.yaml"
    first = git(repo, "rev-parse", "HEAD")
    (repo / "worker" / "hello").write_text("later\n")
    git(repo, "commit", "-q", "-am", "later")

    clean = file_version(params)
    params.write_text("replicas: 3\n")
    dirty = file_version(params)
    untracked = repo / "api" / "params" / "staging.yaml"
    untracked.write_text("replicas: 1\n")

    assert clean == versions.SourceVersion(
        commit=first, dirty=False, tag=first[:12], last_commit=first
    )
    assert dirty == versions.SourceVersion(
        commit=first, dirty=True, tag=f"{first[:12]}-dirty", last_commit=first
    )
    new = file_version(untracked)
    assert new.commit is None and new.dirty and new.tag.startswith("nogit-")


def test_a_file_outside_git_is_versioned_by_its_content(tmp_path: Path) -> None:
    params = tmp_path / "prod.yaml"
    params.write_text("replicas: 2\n")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    (fresh / "prod.yaml").write_text("replicas: 2\n")

    version = file_version(params)

    assert version.commit is None and version.dirty and version.tag.startswith("nogit-")
    assert file_version(fresh / "prod.yaml") == version  # a repo without commits
    with pytest.raises(SourceVersionError, match="no such file"):
        file_version(tmp_path / "missing.yaml")


def test_a_git_failure_is_a_dockyard_error_with_a_hint(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", SERVICE_FILES)
    if os.geteuid() != 0:
        pytest.skip("needs root to give the repo to another user")  # pragma: no cover
    subprocess.run(["chown", "-R", "12345:12345", str(repo)], check=True)
    try:
        with pytest.raises(SourceVersionError) as raised:
            source_version(repo / "api")
    finally:
        subprocess.run(["chown", "-R", f"{os.getuid()}:{os.getgid()}", str(repo)], check=True)
    error = raised.value
    assert error.code == "DY402"
    assert "dubious ownership" in error.message
    assert error.hint is not None and "safe.directory" in error.hint


# ------------------------------------------------------------------ builds


def environment_repo(root: Path, run: Run, *, protected: bool, registry: str | None) -> Path:
    """An environment repo with one service (``api``) and one accessory (``cache``) that
    build tiny images; the run id in their files makes the images this test's own."""
    lines = [
        f"environment: {run.environment}",
        f"protected: {str(protected).lower()}",
        f"labels: {{{TEST_RUN_LABEL}: '{run.id}'}}",
    ]
    if registry:
        lines.append(f"registry: {{url: {registry!r}}}")
    lines += [
        "accessories:",
        "  cache:",
        "    build: {build: ../cache}",
        "services:",
        "  - {name: api, source: ../api}",
    ]
    files = {
        f"environments/{run.environment}.yaml": "\n".join(lines) + "\n",
        "api/dockyard.yaml": (
            "service: api\nimage: {build: .}\ncontainers:\n  api:\n    command: [/hello]\n"
        ),
        "api/Dockerfile": "FROM scratch\nCOPY hello /hello\n",
        "api/hello": f"api {run.id}\n",
        "cache/Dockerfile": "FROM scratch\nCOPY hello /hello\n",
        "cache/hello": f"cache {run.id}\n",
    }
    return make_repo(root, files)


@pytest.fixture
def built_images(client: docker.DockerClient) -> Iterator[list[str]]:
    """Image IDs a test built (their tags carry no test label); removed at the end."""
    made: list[str] = []
    yield made
    for image_id in made:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.remove(image_id, force=True)


def test_images_are_named_by_registry_project_service_and_version(
    engine: DockerEngine,
    client: docker.DockerClient,
    test_run: Run,
    tmp_path: Path,
    built_images: list[str],
) -> None:
    repo = environment_repo(
        tmp_path / "env", test_run, protected=False, registry="127.0.0.1:1/team"
    )
    head = git(repo, "rev-parse", "HEAD")[:12]
    env = spec.load_environment(repo, test_run.environment)

    built = build_environment(engine, env)
    built_images.extend(b.image_id for b in built)

    # With a registry the project is the repo folder's name: the same on every machine.
    assert [(b.service, b.repository, b.tag) for b in built] == [
        ("cache", "127.0.0.1:1/team/env/cache", head),
        ("api", "127.0.0.1:1/team/env/api", head),
    ]
    for b in built:
        assert b.version.commit is not None and not b.version.dirty
        image = client.images.get(b.ref)
        assert image.id == b.image_id
        assert image.labels == {
            TEST_RUN_LABEL: test_run.id,
            "dockyard.project": "env",
            "dockyard.env": test_run.environment,
            "dockyard.service": b.service,
            "dockyard.commit": b.version.last_commit,
            "dockyard.dirty": "false",
        }


def test_without_a_registry_images_are_named_dockyard_project_service(
    engine: DockerEngine, test_run: Run, tmp_path: Path, built_images: list[str]
) -> None:
    repo = environment_repo(tmp_path / "env", test_run, protected=False, registry=None)
    head = git(repo, "rev-parse", "HEAD")[:12]
    env = spec.load_environment(repo, test_run.environment)

    built = build_environment(engine, env, ["api"])
    built_images.extend(b.image_id for b in built)

    project = local_project(repo)
    assert re.fullmatch(r"env-[0-9a-f]{8}", project)
    assert built == [
        BuiltImage(
            "api", built[0].image_id, f"dockyard/{project}/api", head, built[0].version, project
        )
    ]
    with pytest.raises(UnknownImage, match="nothere"):
        build_environment(engine, env, ["api", "nothere"])


def test_a_commit_elsewhere_retags_an_image_but_keeps_its_id(
    engine: DockerEngine,
    client: docker.DockerClient,
    test_run: Run,
    tmp_path: Path,
    built_images: list[str],
) -> None:
    repo = environment_repo(tmp_path / "env", test_run, protected=False, registry=None)
    env = spec.load_environment(repo, test_run.environment)
    before = {b.service: b for b in build_environment(engine, env)}
    (repo / "cache" / "hello").write_text(f"cache, changed {test_run.id}\n")
    git(repo, "commit", "-q", "-am", "only the cache")
    head = git(repo, "rev-parse", "HEAD")

    after = {b.service: b for b in build_environment(engine, env)}
    built_images.extend(b.image_id for b in [*before.values(), *after.values()])

    assert after["api"].tag == head[:12] != before["api"].tag
    assert after["api"].image_id == before["api"].image_id
    assert after["cache"].image_id != before["cache"].image_id
    labels = client.images.get(after["cache"].ref).labels
    assert labels["dockyard.commit"] == head
    assert client.images.get(after["api"].ref).labels["dockyard.commit"] != head


def test_a_protected_environment_refuses_dirty_sources_unless_forced(
    engine: DockerEngine, test_run: Run, tmp_path: Path, built_images: list[str]
) -> None:
    repo = environment_repo(tmp_path / "env", test_run, protected=True, registry=None)
    head = git(repo, "rev-parse", "HEAD")[:12]
    env = spec.load_environment(repo, test_run.environment)
    (repo / "api" / "notes.txt").write_text("not committed\n")
    events: list[str] = []

    with pytest.raises(DirtySource) as raised:
        build_environment(engine, env, report=lambda e: events.append(e.message))
    error = raised.value
    assert error.code == "DY401"
    assert "api" in error.message and "cache" not in error.message
    assert error.hint is not None and "--force" in error.hint and "Commit" in error.hint
    assert events == []  # refused before anything was built
    with pytest.raises(DirtySource):
        ship(engine, env)  # what a release builds with

    built = build_environment(engine, env, force=True)
    built_images.extend(b.image_id for b in built)

    tags = {b.service: b.tag for b in built}
    assert tags == {"cache": head, "api": f"{head}-dirty"}
