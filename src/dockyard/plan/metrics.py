"""The definition of an environment's Prometheus (accessory ``prometheus``), which
runs where the environment file sets ``metrics.prometheus``. Pure.

Its targets come from the catalog: the catalog agent (``dockyard.plan.discovery``)
keeps a Prometheus file_sd targets file (``dockyard.discovery.registrars.file_sd``)
in the volume ``metrics-targets``, which Prometheus reads; so the targets follow
deploys, and replicas that fail or come back between deploys, within a second or so.

The ingress's own metrics (Caddy's) are one static target, port 2019 at a
service name the ingress's holder holds (``dockyard.plan.ingress.metrics_target``),
in whose namespace every Caddy generation serves, so the target follows the
ingress's upgrades and replacements; its ``instance`` label is ``ingress``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, MutableMapping

from dockyard.plan.ingress import INGRESS_SERVICE, metrics_target
from dockyard.plan.model import (
    ContainerDef,
    HealthDef,
    IngressDef,
    MountDef,
    PortDef,
    ServiceDef,
    TaskDef,
    volume_name,
)
from dockyard.plan.supervisor import own_image
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.spec.metrics import PrometheusConfig

PROMETHEUS_SERVICE = "prometheus"
PROMETHEUS_PORT = 9090
TARGETS_DIR = "/etc/prometheus/targets"
TARGETS_FILE = f"{TARGETS_DIR}/dockyard.json"
TARGETS_VOLUME = "metrics-targets"
DATA_VOLUME = "prometheus-data"
DATA_DIR = "/prometheus"
CONFIG_FILE = "/tmp/prometheus.yml"


def _duration(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def prometheus_config(
    environment: str, config: PrometheusConfig, ingress: IngressDef | None = None
) -> dict[str, object]:
    """Prometheus's configuration: the services' metrics ports from the targets
    file (job ``services``) and, when ``ingress`` serves metrics, Caddy's (job
    ``ingress``)."""
    jobs: list[dict[str, object]] = [
        {
            "job_name": "services",
            "file_sd_configs": [{"files": [f"{TARGETS_DIR}/*.json"]}],
        },
    ]
    if ingress is not None and ingress.metrics_port is not None:
        target = metrics_target([p.service for p in ingress.proxied], ingress.metrics_port)
        labels = {"env": environment, "service": INGRESS_SERVICE, "instance": INGRESS_SERVICE}
        jobs.append(
            {"job_name": "ingress", "static_configs": [{"targets": [target], "labels": labels}]}
        )
    return {
        "global": {
            "scrape_interval": _duration(config.interval),
            "scrape_timeout": _duration(min(config.interval, 10.0)),
            "external_labels": {"env": environment},
        },
        "scrape_configs": jobs,
    }


def metrics_registrar() -> dict[str, str]:
    """What the catalog agent is told to keep (an entry of its registrars)."""
    return {"kind": "file_sd", "path": TARGETS_FILE}


def targets_mount(environment: str, read_only: bool) -> MountDef:
    """The targets volume: the agent writes it, Prometheus reads it."""
    volume = volume_name(environment, TARGETS_VOLUME)
    return MountDef(target=TARGETS_DIR, volume=volume, read_only=read_only, shared=True)


def prometheus_service(
    environment: str, image: str, config: PrometheusConfig, ingress: IngressDef | None = None
) -> ServiceDef:
    """The Prometheus of ``environment``, running ``image``; it scrapes ``ingress``
    too when that serves metrics."""
    command = (
        f'printf "%s" "$DOCKYARD_PROMETHEUS_CONFIG" > {CONFIG_FILE} && exec prometheus'
        f" --config.file={CONFIG_FILE} --storage.tsdb.path={DATA_DIR}"
        f" --storage.tsdb.retention.time={config.retention}"
        f" --web.listen-address=:{PROMETHEUS_PORT}"
    )
    ready = f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready"
    health = HealthDef(
        test=[
            "CMD",
            "python3",
            "-c",
            f"import urllib.request; urllib.request.urlopen('{ready}', timeout=2)",
        ],
        interval=2.0,
        timeout=3.0,
        retries=3,
        start_period=20.0,
    )
    container = ContainerDef(
        name="prometheus",
        image=image,
        command=["sh", "-c", command],
        env={
            "DOCKYARD_PROMETHEUS_CONFIG": json.dumps(
                prometheus_config(environment, config, ingress), sort_keys=True
            )
        },
        ports=[
            PortDef(name="http", port=PROMETHEUS_PORT, publish=config.port, host_ip="127.0.0.1")
        ],
        health=health,
        memory=512 * 1024**2,
        mounts=[
            MountDef(target=DATA_DIR, volume=volume_name(environment, DATA_VOLUME)),
            targets_mount(environment, read_only=True),
        ],
        stop_grace=10.0,
    )
    return ServiceDef(
        name=PROMETHEUS_SERVICE,
        kind="accessory",
        task=TaskDef(containers=[container], restart="always"),
        replicas=1,
        max_surge=1,
        max_unavailable=0,
    )


def add_prometheus(
    services: MutableMapping[str, ServiceDef],
    env: LoadedEnvironment,
    images: Mapping[str, str],
    ingress: IngressDef | None = None,
    only: Collection[str] | None = None,
) -> None:
    """Add Prometheus to ``services`` when the environment sets ``metrics.prometheus``
    (a deploy of the whole environment, or one that names it in ``only``); it
    scrapes the environment's ``ingress`` too, when there is one."""
    config = env.spec.metrics.prometheus
    if config is None or (only is not None and PROMETHEUS_SERVICE not in only):
        return
    image = own_image(
        services,
        images,
        PROMETHEUS_SERVICE,
        "the environment's metrics.prometheus",
        hint="Rename it, or take metrics.prometheus out of the environment file.",
    )
    services[PROMETHEUS_SERVICE] = prometheus_service(env.name, image, config, ingress)
