"""The environment file's ``metrics:`` setting: a Prometheus accessory that scrapes
every port a service declares with ``metrics:`` (see docs/metrics.md)."""

from __future__ import annotations

from pydantic import Field

from dockyard.spec.models import Model
from dockyard.spec.units import Seconds

INGRESS_METRICS_PORT = 2019
"""Where the ingress serves Caddy's metrics on the environment's network
(``<a proxied service>:2019/metrics``) when the environment has a Prometheus: Caddy's usual
metrics port (its admin API's), published nowhere. No service may have the
ingress proxy it then (DY130)."""


class PrometheusConfig(Model):
    """The environment's Prometheus (Debian's prometheus, in an image built FROM the
    ingress's base image); its targets are the healthy replicas, from the catalog."""

    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Host port on 127.0.0.1 that serves Prometheus's UI and API; none "
        "when omitted (reach it on the environment's network as prometheus:9090).",
    )
    retention: str = Field(
        default="15d",
        pattern=r"^[1-9][0-9]*(ms|s|m|h|d|w|y)$",
        description="How long samples are kept (Prometheus's duration: 12h, 1d, 2w).",
    )
    interval: Seconds = Field(
        default=15.0, ge=1, le=3600, description="How often every target is scraped."
    )


class MetricsConfig(Model):
    """What collects the environment's metrics."""

    prometheus: PrometheusConfig | None = Field(
        default=None, description="Run a Prometheus accessory (named prometheus)."
    )
