"""Acceptance tests: the ``dockyard`` CLI as a subprocess over a copy of examples/.

Each test module deploys its own environment (a unique name, a free host port,
and a ``dockyard.test-run`` label on every object) and removes everything it
made by label afterwards, even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TEST_LABEL = "dockyard.test-run"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Example:
    """A private copy of examples/ with its own environment."""

    root: Path  # the copy of examples/
    repo: Path  # the environment repo inside it
    env: str
    web_port: int
    run_id: str

    def dockyard(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 900,
        env: dict[str, str] | None = None,
    ) -> Run:
        """Run ``dockyard`` on this copy (``env`` adds to its environment)."""
        proc = subprocess.run(
            [sys.executable, "-m", "dockyard", "-C", str(self.repo), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.environ, **(env or {})},
        )
        run = Run(proc.returncode, proc.stdout, proc.stderr)
        if check and run.code != 0:
            raise AssertionError(
                f"dockyard {' '.join(args)} exited {run.code}:\n{run.out}\n{run.err}"
            )
        return run

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start ``dockyard`` without waiting; progress lines arrive on stderr."""
        return subprocess.Popen(
            [sys.executable, "-m", "dockyard", "-C", str(self.repo), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environ,
        )

    @property
    def key_file(self) -> Path:
        """The example's age identity (scripts/example_secrets.py makes it)."""
        return self.repo / ".keys" / "example.txt"

    @property
    def environ(self) -> dict[str, str]:
        """What ``dockyard`` runs with: this copy's age key, no user config."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
        return {**env, "COLUMNS": "200", "NO_COLOR": "1", "SOPS_AGE_KEY_FILE": str(self.key_file)}

    def give_secrets(self, environment: str | None = None) -> None:
        """The example's secrets for ``environment`` (this one's by default)."""
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "example_secrets.py"),
                str(self.repo),
                environment or self.env,
            ],
            check=True,
            capture_output=True,
            env=self.environ,
            timeout=120,
        )

    @property
    def env_file(self) -> Path:
        return self.repo / "environments" / f"{self.env}.yaml"

    def edit_env(self, **values: object) -> None:
        """Set top-level keys of this environment's file."""
        data = yaml.safe_load(self.env_file.read_text())
        data.update(values)
        self.env_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def commit(self, message: str = "change") -> str:
        """Commit everything in the copy (it is one git repo); returns the commit."""
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD")

    def service_dir(self, name: str) -> Path:
        env_file = self.repo / "environments" / f"{self.env}.yaml"
        data = yaml.safe_load(env_file.read_text())
        ref = next(s for s in data["services"] if s["name"] == name)
        return (env_file.parent / ref["source"]).resolve()

    def set_param(self, service: str, key: str, value: object) -> None:
        path = self.service_dir(service) / "params" / f"{self.env}.yaml"
        data = yaml.safe_load(path.read_text()) or {}
        data[key] = value
        path.write_text(yaml.safe_dump(data))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"


def git(folder: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }
    proc = subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, env=env, check=True
    )
    return proc.stdout.strip()


MADE_HERE = ("__pycache__", ".dockyard", ".keys", "policies.yaml", "secrets")
"""What a checkout may hold that scripts/example_secrets.py or a deploy made there."""


def make_example(
    tmp: Path, name: str | None = None, *, in_git: bool = False, with_secrets: bool = True
) -> Example:
    """Copy examples/ and derive a uniquely named environment from ``local``, with
    the example's secrets for it (unless not ``with_secrets``)."""
    root = tmp / "examples"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(*MADE_HERE))
    run_id = secrets.token_hex(4)
    env = name or f"t{run_id}"
    repo = root / "platform"
    local = yaml.safe_load((repo / "environments" / "local.yaml").read_text())
    port = free_port()
    local["environment"] = env
    local.setdefault("labels", {})[TEST_LABEL] = run_id
    local["params"]["web_port"] = port
    (repo / "environments" / f"{env}.yaml").write_text(yaml.safe_dump(local, sort_keys=False))
    example = Example(root=root, repo=repo, env=env, web_port=port, run_id=run_id)
    for ref in local["services"]:
        params = (repo / "environments" / ref["source"]).resolve() / "params"
        source = params / "local.yaml"
        if source.exists():
            shutil.copy(source, params / f"{env}.yaml")
    if with_secrets:
        example.give_secrets()
    if in_git:
        # The copy commits its secrets (the example's .gitignore keeps them out of
        # git, as they are encrypted for one machine's key); never the key.
        (repo / ".gitignore").unlink()
        (root / ".gitignore").write_text(".dockyard/\n.keys/\n")
        git(root, "init", "-q")
        example.commit("the example")
    return example


def add_environment(example: Example, name: str) -> Example:
    """Another environment in the same copy, derived from ``local`` like the first."""
    local = yaml.safe_load((example.repo / "environments" / "local.yaml").read_text())
    other = Example(example.root, example.repo, name, free_port(), example.run_id)
    local["environment"] = name
    local.setdefault("labels", {})[TEST_LABEL] = example.run_id
    local["params"]["web_port"] = other.web_port
    (example.repo / "environments" / f"{name}.yaml").write_text(yaml.safe_dump(local))
    for ref in local["services"]:
        params = (example.repo / "environments" / ref["source"]).resolve() / "params"
        if (params / "local.yaml").exists():
            shutil.copy(params / "local.yaml", params / f"{name}.yaml")
    other.give_secrets()
    return other


def kill_when(proc: subprocess.Popen[str], marker: str, timeout: float = 300) -> str:
    """SIGKILL ``proc`` as soon as a progress line contains ``marker``; returns the output."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return "".join(seen)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError(f"never saw {marker!r}:\n{''.join(seen)}")


def remove_by_label(run_id: str) -> None:
    client = docker.from_env()
    label = f"{TEST_LABEL}={run_id}"
    for c in client.containers.list(all=True, filters={"label": label}):
        c.remove(force=True, v=True)
    for n in client.networks.list(filters={"label": label}):
        n.remove()
    for v in client.volumes.list(filters={"label": label}):
        v.remove(force=True)
    # The environment's labels are on the images it built, so they go the same way;
    # their parent layers stay, as the build cache of the next test module.
    for image in client.images.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.images.remove(str(image.id), force=True, noprune=True)
    client.close()


def labelled(kind: str, env: str) -> list[Any]:
    """Objects of ``kind`` (containers, networks, volumes) with ``dockyard.env=env``."""
    client = docker.from_env()
    flt = {"label": f"dockyard.env={env}"}
    if kind == "containers":
        found: list[Any] = client.containers.list(all=True, filters=flt)
    elif kind == "networks":
        found = client.networks.list(filters=flt)
    else:
        found = client.volumes.list(filters=flt)
    client.close()
    return found


def container_ids(env: str) -> dict[str, str]:
    return {c.name: c.id for c in labelled("containers", env)}


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (httpx.HTTPError, OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last}")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    """The example deployed once for a whole module."""
    example = make_example(tmp_path_factory.mktemp("acceptance"))
    try:
        example.dockyard("deploy", example.env)
        yield example
    finally:
        example.dockyard("down", example.env, "--volumes", check=False)
        remove_by_label(example.run_id)


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Example]:
    """A fresh copy of the example, not deployed."""
    ex = make_example(tmp_path)
    try:
        yield ex
    finally:
        remove_by_label(ex.run_id)
