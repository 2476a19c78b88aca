"""The ingress's own metrics: with ``metrics.prometheus``, Caddy serves them on
port 2019 (published nowhere), its servers count their requests, and Prometheus
scrapes it as the job ``ingress`` at a name the holder holds already (the first
proxied service's), so the holder does not change. Without it, the ingress's
definitions and config are what they were."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from dockyard.deploy.routing import routing_table
from dockyard.discovery.caddy import (
    METRICS_SERVER,
    ProxiedService,
    RoutingTable,
    caddy_config,
    metrics_server,
)
from dockyard.errors import SpecError, SpecErrors
from dockyard.plan import desire
from dockyard.plan.desired import ingress_of
from dockyard.plan.diff import plan
from dockyard.plan.ingress import (
    HOLDER_SERVICE,
    INGRESS_SERVICE,
    METRICS_PORT,
    holder_service,
)
from dockyard.plan.metrics import PROMETHEUS_SERVICE, prometheus_config
from dockyard.plan.model import ActualState, DesiredState
from dockyard.spec import load_environment
from dockyard.spec.metrics import PrometheusConfig
from tests.unit.plan.states import IMAGES, VALID, running

METRICS = "\nmetrics:\n  prometheus: {interval: 5s}\n"
RUNNING = ("db", "api", "worker", HOLDER_SERVICE, INGRESS_SERVICE)
"""What runs of the valid case's environment without Prometheus (its own parts aside)."""


def repo(tmp_path: Path, env_extra: str = "", api_port: int | None = None) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(VALID, copy)
    env_file = copy / "environments" / "local.yaml"
    env_file.write_text(env_file.read_text() + env_extra)
    if api_port is not None:
        spec = copy / "services" / "api" / "dockyard.yaml"
        old = "ports: [{name: http, port: 8000, publish: 8080}]"
        assert old in spec.read_text()
        spec.write_text(spec.read_text().replace(old, f"ports: [{{name: http, port: {api_port}}}]"))
    return copy


def desired(tmp_path: Path, env_extra: str = "") -> DesiredState:
    return desire(load_environment(repo(tmp_path, env_extra), "local"), IMAGES)


def prometheus_jobs(state: DesiredState) -> dict[str, dict[str, object]]:
    (container,) = state.service(PROMETHEUS_SERVICE).task.containers
    config = json.loads(container.env["DOCKYARD_PROMETHEUS_CONFIG"])
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_without_prometheus_the_ingress_is_what_it_was(tmp_path: Path) -> None:
    state = desired(tmp_path)
    assert state.ingress is not None and state.ingress.metrics_port is None
    holder = state.service(HOLDER_SERVICE)
    assert holder.task.aliases == ["api"]
    expected = holder_service("local", IMAGES["ingress"], None, proxied={"api": [8000]})
    assert holder.task.containers[0].ports == expected.task.containers[0].ports
    config = caddy_config(routing_table(state.ingress, ActualState(environment="local")))
    servers = config["apps"]["http"]["servers"]
    assert set(servers) == {"port-8000", "public"}
    assert all("metrics" not in server for server in servers.values())


def test_with_prometheus_caddy_serves_metrics_on_a_port_published_nowhere(
    tmp_path: Path,
) -> None:
    plain = desired(tmp_path / "a")
    state = desired(tmp_path / "b", METRICS)
    assert state.ingress is not None and state.ingress.metrics_port == METRICS_PORT == 2019
    holder = state.service(HOLDER_SERVICE)
    # The holder stays as it was: turning Prometheus on replaces no holder (a gap).
    assert holder == plain.service(HOLDER_SERVICE)
    assert holder.task.containers[0].ports == plain.service(HOLDER_SERVICE).task.containers[0].ports
    assert all(p.port != METRICS_PORT for p in holder.task.containers[0].ports)
    assert state.service(INGRESS_SERVICE).task.containers[0].ports == []
    # The api's replicas are the same: only the ingress's own parts change.
    assert state.service("api").task.spec_hash() == plain.service("api").task.spec_hash()

    config = caddy_config(routing_table(state.ingress, ActualState(environment="local")))
    servers = config["apps"]["http"]["servers"]
    assert servers[METRICS_SERVER] == {
        "listen": [":2019"],
        "automatic_https": {"disable": True},
        "routes": [{"handle": [{"handler": "metrics"}]}],
    }
    assert servers["public"]["metrics"] == {} and servers["port-8000"]["metrics"] == {}
    # Apart from counting requests, the servers route as they did.
    assert plain.ingress is not None
    before = caddy_config(routing_table(plain.ingress, ActualState(environment="local")))
    counted = {n: {k: v for k, v in s.items() if k != "metrics"} for n, s in servers.items()}
    del counted[METRICS_SERVER]
    assert counted == before["apps"]["http"]["servers"]


def test_prometheus_scrapes_the_ingress_by_a_name_its_holder_holds(tmp_path: Path) -> None:
    jobs = prometheus_jobs(desired(tmp_path, METRICS))
    assert set(jobs) == {"services", "ingress"}
    assert jobs["ingress"]["static_configs"] == [
        {
            "targets": ["api:2019"],
            "labels": {"env": "local", "service": "ingress", "instance": "ingress"},
        }
    ]
    assert "metrics_path" not in jobs["ingress"]  # Caddy's /metrics, Prometheus's default


def test_without_an_ingress_prometheus_has_no_ingress_job(tmp_path: Path) -> None:
    state = desired(tmp_path, METRICS + "ingress: {enabled: false}\n")
    assert state.ingress is None and HOLDER_SERVICE not in {s.name for s in state.services}
    assert set(prometheus_jobs(state)) == {"services"}
    assert prometheus_config("local", PrometheusConfig(), None)["scrape_configs"] == [
        prometheus_jobs(state)["services"]
    ]


def test_a_deploy_of_one_service_plans_the_same_prometheus(tmp_path: Path) -> None:
    env = load_environment(repo(tmp_path, METRICS), "local")
    whole = desire(env, IMAGES).service(PROMETHEUS_SERVICE)
    alone = desire(env, IMAGES, only=[PROMETHEUS_SERVICE]).service(PROMETHEUS_SERVICE)
    assert alone.task.spec_hash() == whole.task.spec_hash()
    assert ingress_of(env) is not None


def test_a_proxied_port_2019_is_refused_only_with_prometheus(tmp_path: Path) -> None:
    env = load_environment(repo(tmp_path / "a", api_port=2019), "local")
    assert ingress_of(env) is not None  # no Prometheus: the ingress proxies 2019
    with pytest.raises(SpecErrors) as info:
        load_environment(repo(tmp_path / "b", METRICS, api_port=2019), "local")
    (error,) = info.value.errors
    assert error.code == "DY130" and "serves its metrics" in error.message
    assert error.location is not None and error.location.file.name == "dockyard.yaml"
    assert error.location.line is not None


def test_the_holder_refuses_to_proxy_the_metrics_port() -> None:
    holder = holder_service("e1", "img", None, proxied={"api": [2019]})
    assert holder.task.aliases == ["api"]
    with pytest.raises(SpecError, match="serves its metrics"):
        holder_service("e1", "img", None, proxied={"api": [2019]}, metrics=True)


def test_the_routing_table_keeps_its_metrics_port_through_changes() -> None:
    table = RoutingTable(
        services=[ProxiedService(name="api", upstreams={8000: ["a:8000"]})], metrics_port=2019
    )
    changed = table.with_upstreams("api", 8000, ["b:8000"]).drain(["b:8000"]).forget(["b:8000"])
    assert changed.metrics_port == 2019
    assert METRICS_SERVER in caddy_config(changed)["apps"]["http"]["servers"]
    with pytest.raises(ValidationError, match="metrics on port 8000"):
        RoutingTable(services=table.services, metrics_port=8000)
    with pytest.raises(ValidationError, match="metrics on port 80: another"):
        RoutingTable(metrics_port=80)
    assert metrics_server(2019)["listen"] == [":2019"]


def test_turning_prometheus_on_replaces_neither_the_holder_nor_caddy(tmp_path: Path) -> None:
    plain = desired(tmp_path / "a")
    state = desired(tmp_path / "b", METRICS)
    actual = ActualState(
        environment="local",
        tasks=[running(plain.service(name), environment="local") for name in RUNNING],
    )
    steps = {s.name: s for s in plan(state, actual).changes}
    # A new holder would leave the public port unanswered for seconds; a new Caddy
    # config (its metrics server) is loaded in place.
    assert HOLDER_SERVICE not in steps and INGRESS_SERVICE not in steps
    assert "api" not in steps  # the services stay
