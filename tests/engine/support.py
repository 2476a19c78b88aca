"""Helpers for the engine tests: service definitions and polling with a deadline."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import docker
import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.engines.model import BuildRequest
from dockyard.plan.model import (
    ContainerDef,
    DesiredState,
    HealthDef,
    ServiceDef,
    TaskDef,
    network_name,
)

TEST_RUN_LABEL = "dockyard.test-run"
BASE_IMAGE = "dockyard/base:bookworm"


@dataclass
class Run:
    """One test's run: a unique environment and the label on everything it makes."""

    id: str
    environment: str
    labels: dict[str, str] = field(default_factory=dict)

    def desired(self, *services: ServiceDef, volumes: tuple[str, ...] = ()) -> DesiredState:
        return DesiredState(
            environment=self.environment,
            network=network_name(self.environment),
            volumes=list(volumes),
            services=list(services),
            labels=self.labels,
        )


HEALTHZ = HealthDef(
    test=[
        "CMD",
        "python3",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=1)",
    ],
    interval=0.3,
    timeout=2.0,
    retries=3,
    start_period=0.0,
)


def web(image: str, name: str = "web", **overrides: object) -> ContainerDef:
    """A main container running the test server on :8000, healthy once it answers."""
    values: dict[str, object] = {
        "name": name,
        "image": image,
        "health": HEALTHZ,
        "stop_grace": 2.0,
    }
    values.update(overrides)
    return ContainerDef.model_validate(values)


def service(name: str, *containers: ContainerDef, **overrides: object) -> ServiceDef:
    task_values: dict[str, object] = {"containers": list(containers)}
    for key in ("restart", "aliases"):
        if key in overrides:
            task_values[key] = overrides.pop(key)
    return ServiceDef.model_validate(
        {"name": name, "task": TaskDef.model_validate(task_values), **overrides}
    )


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> object:
    """Poll ``condition`` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as e:  # not ready yet
            last_error = e
        else:
            if value:
                return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what or condition}: {last_error}")


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:
        return str(response.read().decode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exec_in(client: docker.DockerClient, container_id: str, *command: str) -> tuple[int, str]:
    result = client.containers.get(container_id).exec_run(list(command))
    output = result.output if isinstance(result.output, bytes) else b"".join(result.output)
    return int(result.exit_code or 0), output.decode()


FETCH = (
    "import sys, urllib.request; "
    "print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())"
)
"""A python3 -c program that prints what GET argv[1] answers."""


def build_once(engine: DockerEngine, request: BuildRequest, tag: str, run: str) -> str:
    """Build ``request`` as ``tag``, labelled for removal at the end of ``run``."""
    request = replace(request, tag=tag, labels={TEST_RUN_LABEL: run})
    engine.build(request, lambda line: None)
    return request.tag
