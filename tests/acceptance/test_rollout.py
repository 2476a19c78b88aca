"""Rollouts under steady load, through the environment's ingress.

One copy of the example runs for the whole module, with two web replicas. A load
thread sends requests to the ingress's public port on 127.0.0.1 (half on one
keep-alive connection, half on a new connection each) for ``/api/items``, which
web answers by calling ``api`` by name: every request crosses the ingress twice,
so public and service-to-service traffic are both under test. Every failed
request is a test failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import yaml

from dockyard.discovery import ingress_build
from tests.fixtures.load import Load, SlowRequest, served_since

from .conftest import Example, kill_when, make_example, remove_by_label, wait_for

pytestmark = pytest.mark.acceptance

PATH = "/api/items"
WATCH = 12
"""Seconds a new web replica is watched: the "unhealthy after 5 s" version fails
within 5 s + interval x retries (3 s) of becoming healthy."""


def parse(body: str) -> str:
    return body[:40]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    example = make_example(tmp_path_factory.mktemp("rollout"))
    spec = web_spec(example)
    text = spec.read_text().replace("  replicas: 1\n", "  replicas: 2\n")
    spec.write_text(text.replace("deploy:\n", f"deploy:\n  watch: {WATCH}s\n"))
    example.edit_env(lock={"lease": "3s"})  # a killed deploy's lock expires soon
    try:
        example.dockyard("release", example.env)
        yield example
    finally:
        example.dockyard("down", example.env, "--volumes", check=False)
        remove_by_label(example.run_id)


def web_spec(example: Example) -> Path:
    return example.service_dir("web") / "dockyard.yaml"


def web_tasks(example: Example) -> dict[str, str]:
    """Running web replicas: container name → spec hash."""
    client = docker.from_env()
    try:
        found = client.containers.list(
            filters={"label": [f"dockyard.env={example.env}", "dockyard.service=web"]}
        )
        return {
            c.name: c.labels["dockyard.spec-hash"]
            for c in found
            if c.labels.get("dockyard.role") == "main"
        }
    finally:
        client.close()


def load(example: Example, **options: Any) -> Load:
    return Load(example.web_port, path=PATH, parse=parse, max_seconds=600, **options)


def quiet(slow: SlowRequest) -> str:
    return f"{slow.status} {slow.failure} after {slow.seconds}s"


# ------------------------------------------------------------------ tests


def test_three_rollouts_under_load_drop_no_request(shop: Example) -> None:
    levels = ["debug", "info", "debug"]
    with load(shop) as steady:
        served_since(steady, 0, 20)
        for level in levels:
            before = web_tasks(shop)
            shop.set_param("web", "log_level", level)
            shop.set_param("api", "log_level", level)
            with SlowRequest(shop.web_port, path="/slow?seconds=2") as slow:
                wait_for(lambda: steady.served > 0, 10, "load")
                release = shop.dockyard("release", shop.env)
            assert slow.ok, quiet(slow)
            after = web_tasks(shop)
            assert len(after) == 2 and not set(after) & set(before), release.err
            mark = steady.served
            served_since(steady, mark, 20)
    assert steady.failures == [], [str(f) for f in steady.failures[:5]]
    assert steady.served > 100
    # Both web replicas answered (the header names the container).
    assert len(steady.replicas) >= 2


def test_a_retiring_replica_leaves_rotation_before_it_is_stopped(shop: Example) -> None:
    shop.set_param("web", "log_level", "warning")
    with load(shop) as steady, SlowRequest(shop.web_port, path="/slow?seconds=4") as slow:
        served_since(steady, 0, 10)
        wait_for(lambda: slow.seconds is None and steady.served > 10, 10, "the slow request")
        release = shop.dockyard("release", shop.env)
    assert slow.ok, quiet(slow)
    assert steady.failures == [], [str(f) for f in steady.failures[:5]]
    # Out of rotation, drained, then removed: in that order for every old replica.
    lines = release.err.splitlines()
    for name in re.findall(r"removed (\S+)", release.err):
        out = next(i for i, line in enumerate(lines) if f"{name} out of rotation" in line)
        removed = next(i for i, line in enumerate(lines) if f"removed {name}" in line)
        drained = [i for i, line in enumerate(lines) if "drained" in line and out < i < removed]
        assert drained, release.err


BAD_VERSIONS = {
    "exits at start": ("command: [python3, /app/web.py]", 'command: [python3, -c, "exit(3)"]'),
    "never healthy": ("health: {http: /healthz,", "health: {http: /no-such-page,"),
    "unhealthy 5 s after it became healthy": (
        "health: {http: /healthz, port: http, interval: 1s, timeout: 5s, retries: 3}",
        "health: {command: [python3, -c, 'import os; "
        'up = float(open("/proc/uptime").read().split()[0]); '
        'ticks = int(open("/proc/1/stat").read().rsplit(")", 1)[1].split()[19]); '
        'exit(up - ticks / os.sysconf("SC_CLK_TCK") > 5)\'], '
        "interval: 1s, timeout: 1s, retries: 3}",
    ),
}


@pytest.mark.parametrize("version", list(BAD_VERSIONS))
def test_a_bad_version_rolls_back_on_its_own_under_load(shop: Example, version: str) -> None:
    spec = web_spec(shop)
    good = spec.read_text()
    old, new = BAD_VERSIONS[version]
    assert old in good
    before = web_tasks(shop)
    spec.write_text(good.replace(old, new))
    try:
        with load(shop) as steady:
            served_since(steady, 0, 10)
            release = shop.dockyard("release", shop.env, check=False)
            mark = steady.served
            served_since(steady, mark, 20)
    finally:
        spec.write_text(good)
    assert release.code != 0, release.err
    assert "rolled back" in release.err
    assert "log lines" in release.err  # the failing container's last words
    assert steady.failures == [], [str(f) for f in steady.failures[:5]]
    # The previous version serves: same definitions as before the bad release.
    assert sorted(web_tasks(shop).values()) == sorted(before.values())
    history = shop.dockyard("history", shop.env, "--json").json()
    assert history[0]["status"] == "failed"


def test_a_deploy_killed_mid_rollout_leaves_traffic_on_healthy_replicas(shop: Example) -> None:
    shop.set_param("web", "log_level", "error")
    with load(shop) as steady:
        served_since(steady, 0, 10)
        # Killed with an old replica out of rotation, draining, not yet stopped.
        kill_when(shop.popen("release", shop.env), "out of rotation")
        mark = steady.served
        served_since(steady, mark, 50)
        run = shop.dockyard("release", shop.env, "--wait", "60")
        mark = steady.served
        served_since(steady, mark, 20)
    assert "interrupted" in run.err
    assert steady.failures == [], [str(f) for f in steady.failures[:5]]
    assert len(web_tasks(shop)) == 2  # no replica left over
    assert shop.dockyard("plan", shop.env, "--detailed-exitcode", check=False).code == 0


def test_a_replica_killed_under_load_costs_no_request(shop: Example) -> None:
    client = docker.from_env()
    try:
        victim = client.containers.get(sorted(web_tasks(shop))[0])
        with load(shop) as steady:
            served_since(steady, 0, 20)
            hostname = victim.attrs["Config"]["Hostname"]
            answered = steady.replicas.get(hostname, 0)
            os.kill(int(victim.attrs["State"]["Pid"]), signal.SIGKILL)
            mark = steady.served
            served_since(steady, mark, 100)
            # Its restart policy brings it back, and the ingress's health check puts
            # it back in rotation.
            wait_for(
                lambda: _restarted(client, victim.id) and steady.replicas[hostname] > answered,
                30,
                "the killed replica to answer again",
            )
    finally:
        client.close()
    assert steady.failures == [], [str(f) for f in steady.failures[:5]]


def _restarted(client: docker.DockerClient, container_id: str) -> bool:
    container = client.containers.get(container_id)
    return int(container.attrs["RestartCount"]) > 0


def ingress_containers(example: Example) -> dict[str, str]:
    """The ingress's running containers: service (holder, Caddy) → container id."""
    client = docker.from_env()
    try:
        found = client.containers.list(filters={"label": f"dockyard.env={example.env}"})
        return {
            c.labels["dockyard.service"]: c.id
            for c in found
            if c.labels.get("dockyard.service") in ("ingress", "ingress-holder")
        }
    finally:
        client.close()


def test_a_new_ingress_image_and_back_drop_no_request(shop: Example) -> None:
    """Another ``ingress.base_image`` (a new tag of the same base) is a new
    ingress image: Caddy is replaced beside the old one, the holder stays."""
    client = docker.from_env()
    mirror = f"dockyard-test/base:{shop.run_id}"
    client.images.get("dockyard/base:bookworm").tag(mirror)
    good = shop.env_file.read_text()
    data = yaml.safe_load(good)
    data["ingress"]["base_image"] = mirror
    before = ingress_containers(shop)
    try:
        with load(shop) as steady:
            served_since(steady, 0, 20)
            shop.env_file.write_text(yaml.safe_dump(data, sort_keys=False))
            upgrade = shop.dockyard("release", shop.env)
            mark = steady.served
            served_since(steady, mark, 50)
            upgraded = ingress_containers(shop)
            shop.env_file.write_text(good)
            shop.dockyard("release", shop.env)
            mark = steady.served
            served_since(steady, mark, 50)
    finally:
        shop.env_file.write_text(good)
        for tag in (mirror, ingress_build(mirror).tag):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag)
        client.close()
    assert "replace accessory ingress" in upgrade.out + upgrade.err
    assert steady.failures == [], [str(f) for f in steady.failures[:5]]
    after = ingress_containers(shop)
    assert before["ingress-holder"] == upgraded["ingress-holder"] == after["ingress-holder"]
    assert len({before["ingress"], upgraded["ingress"], after["ingress"]}) == 3
    assert shop.dockyard("plan", shop.env, "--detailed-exitcode", check=False).code == 0


def test_a_restarted_ingress_routes_again_on_its_own(shop: Example) -> None:
    shop.dockyard("release", shop.env)  # whatever the tests above left, converged
    assert shop.dockyard("plan", shop.env, "--detailed-exitcode", check=False).code == 0
    client = docker.from_env()
    try:
        (ingress,) = client.containers.list(
            filters={"label": [f"dockyard.env={shop.env}", "dockyard.service=ingress"]}
        )
        with load(shop) as steady:
            served_since(steady, 0, 10)
            ingress.restart(timeout=3)
            mark = steady.served
            served_since(steady, mark, 50, timeout=60)
    finally:
        client.close()
    # Nothing of Dockyard ran: Caddy resumed the config it saved, which is still
    # the one the spec calls for.
    assert steady.served >= mark + 50
    assert shop.dockyard("plan", shop.env, "--detailed-exitcode", check=False).code == 0
