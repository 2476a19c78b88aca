"""The example keeps running between deploys: the supervisor brings back a killed
ingress and a killed api replica (with its stats sidecar in the new namespace),
and a killed supervisor shows in ``plan`` and ``status``.

Figures printed (``pytest -s``): failed/total requests of a steady client on
``/api/items`` (public route → web → api, through the ingress twice) across each kill.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import docker
import pytest

from tests.acceptance.conftest import Example, make_example, remove_by_label, wait_for
from tests.fixtures.load import Load, served_since

pytestmark = pytest.mark.acceptance

BACK = 180.0
"""Seconds a killed container may take to run and serve again (the machine may be busy)."""
BEFORE, AFTER = 10, 50
"""Requests served before a kill, and after the killed container is back."""
METRICS = (
    "import urllib.request; "
    "print(urllib.request.urlopen('http://127.0.0.1:9100/metrics', timeout=2).read().decode())"
)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    example = make_example(tmp_path_factory.mktemp("supervisor"))
    try:
        example.dockyard("deploy", example.env)
        yield example
    finally:
        example.dockyard("down", example.env, "--volumes", check=False)
        remove_by_label(example.run_id)


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    c = docker.from_env()
    yield c
    c.close()


def containers(client: docker.DockerClient, env: str, service: str, role: str) -> list[Any]:
    labels = [f"dockyard.env={env}", f"dockyard.service={service}", f"dockyard.role={role}"]
    found = client.containers.list(all=True, filters={"label": labels})
    return sorted(found, key=lambda c: c.name)


def inspect(client: docker.DockerClient, container_id: str) -> dict[str, Any]:
    return dict(client.api.inspect_container(container_id))


def moment(text: str) -> datetime:
    """Docker's RFC 3339 time (nanoseconds, trailing zeros dropped) as a datetime."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction[:6].ljust(6, '0')}+00:00")


def restarted_after(client: docker.DockerClient, container_id: str, before: str) -> bool:
    state = inspect(client, container_id)["State"]
    return bool(state["Running"]) and moment(state["StartedAt"]) > moment(before)


def measure(load: Load) -> str:
    """Failed/total requests, and the longest run of failures."""
    total = load.served + len(load.failures)
    longest = max((end - begin for begin, end in load.outages), default=0.0)
    return f"{len(load.failures)} failed of {total} requests, longest outage {longest:.2f}s"


def test_status_shows_the_supervisor(deployed: Example, client: docker.DockerClient) -> None:
    data = deployed.dockyard("status", deployed.env, "--json").json()
    supervisor = next(s for s in data["services"] if s["name"] == "supervisor")
    assert supervisor["kind"] == "accessory" and supervisor["desired"] == 1
    (container,) = containers(client, deployed.env, "supervisor", "main")
    assert f"supervising environment {deployed.env}" in container.logs().decode()


@pytest.mark.fault
def test_a_killed_ingress_serves_its_routes_again_without_a_deploy(
    deployed: Example, client: docker.DockerClient
) -> None:
    (ingress,) = containers(client, deployed.env, "ingress", "main")
    before = inspect(client, ingress.id)["State"]["StartedAt"]
    with Load(deployed.web_port, path="/api/items", parse=str, max_seconds=600) as load:
        served_since(load, 0, BEFORE, timeout=BACK)
        ingress.kill()
        wait_for(lambda: restarted_after(client, ingress.id, before), BACK, "the ingress")
        served_since(load, load.served, AFTER, timeout=BACK)
    print(f"\nexample, kill of the ingress: {measure(load)}")
    assert inspect(client, ingress.id)["RestartCount"] == 0  # not Docker's policy


@pytest.mark.fault
def test_a_killed_api_replica_comes_back_with_its_stats_sidecar(
    deployed: Example, client: docker.DockerClient
) -> None:
    first, _second = containers(client, deployed.env, "api", "main")
    stats = next(
        c
        for c in containers(client, deployed.env, "api", "sidecar")
        if c.labels["dockyard.task"] == first.name
    )
    before = inspect(client, first.id)["State"]["StartedAt"]
    with Load(deployed.web_port, path="/api/items", parse=str, max_seconds=600) as load:
        served_since(load, 0, BEFORE, timeout=BACK)
        first.kill()
        wait_for(lambda: restarted_after(client, first.id, before), BACK, "the api replica")
        wait_for(
            lambda: restarted_after(
                client, stats.id, inspect(client, first.id)["State"]["StartedAt"]
            ),
            BACK,
            "its stats sidecar to restart after it",
        )

        def api_up() -> bool:
            result = client.containers.get(stats.id).exec_run(["python3", "-c", METRICS])
            return result.exit_code == 0 and "api_up 1" in result.output.decode()

        wait_for(api_up, BACK, "stats to reach the api on 127.0.0.1:8000")
        served_since(load, load.served, AFTER, timeout=BACK)
    print(f"\nexample, kill of one of two api replicas: {measure(load)}")


@pytest.mark.fault
def test_a_killed_supervisor_shows_in_plan_and_status_until_a_deploy(
    deployed: Example, client: docker.DockerClient
) -> None:
    (supervisor,) = containers(client, deployed.env, "supervisor", "main")
    supervisor.kill()
    wait_for(lambda: not inspect(client, supervisor.id)["State"]["Running"], what="it to stop")

    run = deployed.dockyard("plan", deployed.env, "--json", "--detailed-exitcode", check=False)
    assert run.code == 2, run.err
    changes = [s for s in run.json()["steps"] if s["action"] != "noop"]
    assert [(s["action"], s["name"]) for s in changes] == [("replace", "supervisor")]
    status = deployed.dockyard("status", deployed.env, "--json").json()
    entry = next(s for s in status["services"] if s["name"] == "supervisor")
    assert not entry["ok"]

    # The deploy's smoke test needs a healthy api: the kills above are recent.
    wait_for(lambda: healthy_but_the_supervisor(deployed), BACK, "the example to be healthy")
    deployed.dockyard("deploy", deployed.env)
    assert deployed.dockyard("plan", deployed.env, "--detailed-exitcode", check=False).code == 0


def healthy_but_the_supervisor(example: Example) -> bool:
    status = example.dockyard("status", example.env, "--json").json()
    return all(s["ok"] for s in status["services"] if s["name"] != "supervisor")


def test_down_removes_the_supervisor(deployed: Example, client: docker.DockerClient) -> None:
    deployed.dockyard("down", deployed.env)
    assert containers(client, deployed.env, "supervisor", "main") == []
    assert client.containers.list(all=True, filters={"label": f"dockyard.env={deployed.env}"}) == []
