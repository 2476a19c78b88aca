"""The environment's Prometheus: there only when ``metrics.prometheus`` is set, its
port on 127.0.0.1 only, its targets file kept by the catalog agent in a volume
they share; a port's ``metrics:`` reaches the catalog's entries and the file_sd
target groups, and leaves the hash of a spec without it as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dockyard.discovery.registrars import FileSdRegistrar, registrar_for
from dockyard.discovery.registrars.containers import entries_of
from dockyard.discovery.registrars.file_sd import target_groups
from dockyard.errors import SpecError, SpecErrors
from dockyard.plan import desire
from dockyard.plan.discovery import AGENT_SERVICE
from dockyard.plan.metrics import PROMETHEUS_SERVICE, TARGETS_DIR, TARGETS_FILE, add_prometheus
from dockyard.plan.model import PortDef
from dockyard.spec import load_environment
from dockyard.spec.loaded import LoadedEnvironment
from tests.unit.plan.states import IMAGES, VALID

METRICS = """
metrics:
  prometheus: {port: 9090, retention: 1d, interval: 5s}
"""


def edited(tmp_path: Path, env_extra: str = METRICS, port: str = "") -> LoadedEnvironment:
    repo = tmp_path / "repo"
    shutil.copytree(VALID, repo)
    env_file = repo / "environments" / "local.yaml"
    env_file.write_text(env_file.read_text() + env_extra)
    if port:
        spec = repo / "services" / "api" / "dockyard.yaml"
        text = spec.read_text()
        old = "ports: [{name: http, port: 8000, publish: 8080}]"
        assert old in text
        spec.write_text(text.replace(old, f"ports: [{{name: http, port: 8000, {port}}}]"))
    return load_environment(repo, "local")


def test_no_metrics_no_prometheus_and_no_agent() -> None:
    names = {s.name for s in desire(load_environment(VALID, "local"), IMAGES).services}
    assert PROMETHEUS_SERVICE not in names and AGENT_SERVICE not in names


def test_prometheus_publishes_on_localhost_and_reads_the_agents_targets(tmp_path: Path) -> None:
    desired = desire(edited(tmp_path), IMAGES)
    (prometheus,) = desired.service(PROMETHEUS_SERVICE).task.containers
    assert prometheus.ports == [PortDef(name="http", port=9090, publish=9090)]
    assert prometheus.ports[0].host_ip == "127.0.0.1"
    command = " ".join(prometheus.command or [])
    assert "--storage.tsdb.retention.time=1d" in command
    config = json.loads(prometheus.env["DOCKYARD_PROMETHEUS_CONFIG"])
    assert config["global"]["scrape_interval"] == "5000ms"
    job, ingress = config["scrape_configs"]
    assert job["file_sd_configs"] == [{"files": [f"{TARGETS_DIR}/*.json"]}]
    assert ingress["job_name"] == "ingress"  # tests/unit/plan/test_ingress_metrics.py
    reads = next(m for m in prometheus.mounts if m.target == TARGETS_DIR)
    assert reads.read_only and reads.volume == "dockyard-local-metrics-targets"
    (agent,) = desired.service(AGENT_SERVICE).task.containers
    writes = next(m for m in agent.mounts if m.target == TARGETS_DIR)
    assert writes.volume == reads.volume and not writes.read_only and writes.shared
    registrars = json.loads(agent.env["DOCKYARD_REGISTRARS"])
    assert registrars == [{"kind": "file_sd", "path": TARGETS_FILE}]
    assert reads.volume in desired.volumes


def test_a_port_without_metrics_keeps_its_hash(tmp_path: Path) -> None:
    plain = desire(load_environment(VALID, "local"), IMAGES).service("api")
    with_prometheus = desire(edited(tmp_path), IMAGES).service("api")
    assert with_prometheus.task.spec_hash() == plain.task.spec_hash()
    assert "metrics" not in plain.task.canonical()


def test_metrics_true_is_the_default_path_and_changes_the_hash(tmp_path: Path) -> None:
    plain = desire(load_environment(VALID, "local"), IMAGES).service("api")
    api = desire(edited(tmp_path, port="metrics: true"), IMAGES).service("api")
    assert api.task.main.ports[0].metrics == "/metrics"
    assert api.task.spec_hash() != plain.task.spec_hash()
    (tmp_path / "b").mkdir()
    other = desire(edited(tmp_path / "b", port="metrics: /stats"), IMAGES).service("api")
    assert other.task.main.ports[0].metrics == "/stats"


@pytest.mark.parametrize(
    ("env_extra", "port", "message"),
    [
        ("\nmetrics:\n  prometheus: {retention: 1 day}\n", "", "retention"),
        ("\nmetrics:\n  prometheus: {port: 70000}\n", "", "port"),
        ("\nmetrics:\n  prometheus: {scrape: 1s}\n", "", "scrape"),
        ("", "metrics: stats", "'stats' is not a path"),
    ],
)
def test_bad_settings_are_located_errors(
    tmp_path: Path, env_extra: str, port: str, message: str
) -> None:
    with pytest.raises(SpecErrors) as info:
        edited(tmp_path, env_extra, port)
    (error,) = info.value.errors
    assert message in error.message
    assert error.location is not None and error.location.line is not None


def test_a_service_called_prometheus_is_refused(tmp_path: Path) -> None:
    env = edited(tmp_path)
    services = {PROMETHEUS_SERVICE: desire(env, IMAGES).service("api")}
    with pytest.raises(SpecError, match="cannot be called prometheus"):
        add_prometheus(services, env, IMAGES)


def _container_list(metrics: str | None) -> list[dict[str, object]]:
    port: dict[str, object] = {"name": "metrics", "port": 9100}
    if metrics:
        port["metrics"] = metrics
    definition = {"containers": [{"name": "api", "ports": []}, {"name": "stats", "ports": [port]}]}
    common = {"State": "running", "Status": "Up 5 seconds (healthy)"}
    network = {"Networks": {"dockyard-e1": {"IPAddress": "10.0.0.7"}}}
    labels = {"dockyard.task": "e1-api-2-abc", "dockyard.service": "api", "dockyard.replica": "2"}
    return [
        {
            **common,
            "Labels": {
                **labels,
                "dockyard.role": "main",
                "dockyard.container": "api",
                "dockyard.definition": json.dumps(definition),
            },
            "NetworkSettings": network,
        },
        {**common, "Labels": {**labels, "dockyard.role": "sidecar", "dockyard.container": "stats"}},
    ]


def test_the_targets_file_lists_the_metrics_ports_with_their_labels(tmp_path: Path) -> None:
    (entry,) = entries_of(_container_list("/metrics"), "e1")
    assert (entry.container, entry.metrics) == ("stats", "/metrics")
    (group,) = target_groups([entry])
    assert group["targets"] == ["10.0.0.7:9100"]
    labels = group["labels"]
    assert labels["env"] == "e1" and labels["service"] == "api" and labels["replica"] == "2"
    assert labels["container"] == "stats" and labels["__metrics_path__"] == "/metrics"
    assert target_groups(entries_of(_container_list(None), "e1")) == []
    path = tmp_path / "dockyard.json"
    registrar = registrar_for({"kind": "file_sd", "path": str(path)}, "e1")
    assert isinstance(registrar, FileSdRegistrar)
    registrar.sync([entry])
    assert json.loads(path.read_text()) == [group]
    registrar.sync([])
    assert json.loads(path.read_text()) == []
