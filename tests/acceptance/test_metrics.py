"""The example with ``metrics.prometheus`` on: a real Prometheus (Debian's, in an
image built FROM the local base) scrapes the api's ``stats`` sidecar on each
healthy replica; a killed replica leaves its targets and its replacement appears,
as the catalog agent rewrites the targets file. It scrapes the ingress's Caddy
too, on port 2019 at a name its holder holds (``api:2019``), which counts the
requests it proxies, and follows the ingress when it is replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import httpx
import pytest
import yaml

from tests.acceptance.conftest import Example, free_port, make_example, remove_by_label, wait_for

pytestmark = pytest.mark.acceptance

WAIT = 180.0
"""Seconds a deploy's Prometheus, or a killed replica brought back, may take on a busy machine."""
GONE = 30.0
"""Seconds by which a killed replica is out of Prometheus's targets (the agent looks
at each container event, Prometheus reads the file as it changes)."""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    example = make_example(tmp_path_factory.mktemp("metrics"))
    prometheus = {"port": free_port(), "retention": "1d", "interval": "1s"}
    example.edit_env(metrics={"prometheus": prometheus})
    try:
        example.dockyard("deploy", example.env)
        yield example
    finally:
        example.dockyard("down", example.env, "--volumes", check=False)
        remove_by_label(example.run_id)


def api(example: Example, path: str, **params: str) -> Any:
    port = yaml.safe_load(example.env_file.read_text())["metrics"]["prometheus"]["port"]
    url = f"http://127.0.0.1:{port}{path}"
    response = httpx.get(url, params=params, timeout=5.0)
    response.raise_for_status()
    return response.json()["data"]


def targets(example: Example) -> dict[str, tuple[str, str]]:
    """The scrape URL of each target of the services job -> (replica, health)."""
    found = api(example, "/api/v1/targets", state="active")["activeTargets"]
    return {
        t["scrapeUrl"]: (t["labels"]["replica"], t["health"])
        for t in found
        if t["labels"].get("job") == "services"
    }


def catalog_urls(example: Example) -> dict[str, str]:
    """The catalog's api metrics endpoints: scrape URL -> replica."""
    data = example.dockyard("catalog", example.env, "--json").json()
    entry = next(s for s in data["services"] if s["name"] == "api")
    return {
        f"http://{e['address']}:{e['port']}/metrics": str(e["replica"])
        for e in entry["endpoints"]
        if e["port_name"] == "metrics"
    }


def all_up(example: Example) -> dict[str, str] | None:
    """The api's metrics endpoints when Prometheus lists exactly those, each up."""
    expected = catalog_urls(example)
    seen = targets(example)
    if len(expected) != 2 or set(seen) != set(expected):
        return None
    if any(seen[url] != (replica, "up") for url, replica in expected.items()):
        return None
    return expected


def test_each_healthy_replica_is_scraped(deployed: Example) -> None:
    urls = wait_for(lambda: all_up(deployed), timeout=WAIT, what="both replicas up in Prometheus")
    assert sorted(urls.values()) == ["1", "2"]
    found = api(deployed, "/api/v1/targets", state="active")["activeTargets"]
    labels = next(t["labels"] for t in found if t["labels"].get("job") == "services")
    assert labels["env"] == deployed.env and labels["service"] == "api"
    assert labels["container"] == "stats" and labels["port"] == "metrics"

    def probed() -> list[Any] | None:
        result = api(deployed, "/api/v1/query", query='sum by (replica) (api_up{service="api"})')
        return result["result"] if len(result["result"]) == 2 else None

    series = wait_for(probed, timeout=WAIT, what="api_up of both replicas")
    assert {s["metric"]["replica"] for s in series} == {"1", "2"}


def main_of(example: Example, replica: str) -> Any:
    client = docker.from_env()
    labels = [f"dockyard.env={example.env}", "dockyard.service=api", "dockyard.role=main"]
    (one,) = [
        c
        for c in client.containers.list(filters={"label": labels})
        if c.labels["dockyard.replica"] == replica
    ]
    return one


def paused(container: docker.models.containers.Container) -> bool:
    try:
        container.pause()
    except docker.errors.APIError as e:
        if "unable to freeze" in str(e):
            return False
        raise
    return True


def test_a_failed_replica_leaves_the_targets_and_comes_back(deployed: Example) -> None:
    # Paused, replica 1 no longer runs: the catalog leaves it out until it runs again.
    # (A replica killed and started again within Prometheus's 5 s between target
    # updates may never leave them: see docs/metrics.md.)
    before = wait_for(lambda: all_up(deployed), timeout=WAIT, what="both replicas up")
    (failed,) = [url for url, replica in before.items() if replica == "1"]
    one = main_of(deployed, "1")
    # The kernel may fail to freeze a container whose process is busy in the
    # kernel at that moment ("unable to freeze"): ask again.
    wait_for(lambda: paused(one), timeout=60, what="replica 1 paused")
    try:
        wait_for(lambda: failed not in targets(deployed), timeout=GONE, what="replica 1 out")
        assert {r for r, _ in targets(deployed).values()} == {"2"}
    finally:
        one.unpause()
    after = wait_for(lambda: all_up(deployed), timeout=WAIT, what="replica 1 back and up")
    assert sorted(after.values()) == ["1", "2"]


def test_a_new_replica_appears_after_a_deploy(deployed: Example) -> None:
    deployed.set_param("api", "replicas", 3)
    deployed.dockyard("deploy", deployed.env)

    def three() -> set[str] | None:
        seen = targets(deployed)
        up = {replica for replica, health in seen.values() if health == "up"}
        return up if up == {"1", "2", "3"} and len(seen) == 3 else None

    wait_for(three, timeout=WAIT, what="replica 3 up in Prometheus")
    urls = catalog_urls(deployed)
    assert set(targets(deployed)) == set(urls)


def ingress_target(example: Example) -> dict[str, Any] | None:
    """The one target of the ingress job, once it is up."""
    found = api(example, "/api/v1/targets", state="active")["activeTargets"]
    (target,) = [t for t in found if t["labels"].get("job") == "ingress"]
    return target if target["health"] == "up" else None


def requests_of(example: Example, server: str) -> float:
    """What Prometheus last scraped of the requests the ingress's ``server``
    answered (0 before the first)."""
    query = f'sum(caddy_http_requests_total{{job="ingress",server="{server}"}})'
    result = api(example, "/api/v1/query", query=query)["result"]
    return float(result[0]["value"][1]) if result else 0.0


def caddy_started(example: Example) -> float | None:
    """The start time of the Caddy Prometheus last scraped."""
    query = 'process_start_time_seconds{job="ingress"}'
    result = api(example, "/api/v1/query", query=query)["result"]
    return float(result[0]["value"][1]) if result else None


def counted(example: Example, requests: int) -> None:
    """Send ``requests`` pairs of requests to the ingress's public port: web's own
    GET /healthz, and GET /api/items, for which web asks the api through the
    ingress (``http://api:8000``); Prometheus then counts all of them in
    caddy_http_requests_total of the public server, and the api's in the server of
    port 8000. Caddy counts a request whatever its answer: web's call may time out
    on a busy machine (a 502 from web)."""
    before = {server: requests_of(example, server) for server in ("public", "port-8000")}
    for _ in range(requests):
        assert httpx.get(example.url + "/healthz", timeout=10.0).status_code == 200
        httpx.get(example.url + "/api/items", timeout=10.0)
    wanted = {
        "public": before["public"] + 2 * requests,
        "port-8000": before["port-8000"] + requests,
    }

    def all_counted() -> bool:
        return all(requests_of(example, server) >= n for server, n in wanted.items())

    wait_for(all_counted, timeout=WAIT, what=f"caddy_http_requests_total at {wanted}")


def test_the_ingress_is_scraped_and_counts_the_requests_it_answers(deployed: Example) -> None:
    target = wait_for(lambda: ingress_target(deployed), timeout=WAIT, what="the ingress up")
    assert target["scrapeUrl"] == "http://api:2019/metrics"  # the first proxied service's name
    labels = target["labels"]
    assert (labels["service"], labels["instance"], labels["env"]) == (
        "ingress",
        "ingress",
        deployed.env,
    )
    counted(deployed, 7)


def test_the_metrics_port_is_published_nowhere(deployed: Example) -> None:
    client = docker.from_env()
    labels = [f"dockyard.env={deployed.env}", "dockyard.service=ingress-holder"]
    (holder,) = client.containers.list(filters={"label": labels})
    ports = holder.attrs["NetworkSettings"]["Ports"] or {}
    assert {port for port, bound in ports.items() if bound} == {"80/tcp"}  # the public one
    assert "2019/tcp" not in ports  # not even exposed
    # Prometheus reaches it by a name the holder holds for the services it proxies.
    network = holder.attrs["NetworkSettings"]["Networks"][f"dockyard-{deployed.env}"]
    assert "api" in network["Aliases"]


def test_the_ingress_job_follows_a_new_ingress(deployed: Example) -> None:
    # A new host port replaces the holder, and with it Caddy: a new namespace, a new
    # address, the same name.
    wait_for(lambda: ingress_target(deployed), timeout=WAIT, what="the ingress up")
    started = wait_for(lambda: caddy_started(deployed), timeout=WAIT, what="Caddy's start time")
    port = free_port()
    params = yaml.safe_load(deployed.env_file.read_text())
    params["params"]["web_port"] = port
    deployed.env_file.write_text(yaml.safe_dump(params, sort_keys=False))
    deployed.dockyard("deploy", deployed.env)
    deployed.web_port = port
    wait_for(
        lambda: (caddy_started(deployed) or 0) > started,
        timeout=WAIT,
        what="the new Caddy's start time in Prometheus",
    )
    assert ingress_target(deployed) is not None
    counted(deployed, 5)


def test_status_counts_prometheus_as_wanted(deployed: Example) -> None:
    data = deployed.dockyard("status", deployed.env, "--json").json()
    found = next(s for s in data["services"] if s["name"] == "prometheus")
    assert (found["kind"], found["desired"]) == ("accessory", 1)
