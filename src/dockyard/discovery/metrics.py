"""The image of an environment's Prometheus: Debian's prometheus, built on the
engine ``FROM`` the ingress's base image, like the catalog agent's. Its definition
is in ``dockyard.plan.metrics``."""

from __future__ import annotations

from pathlib import Path

from dockyard.engines.images import Images
from dockyard.engines.model import BuildRequest
from dockyard.engines.own_images import ensure_built, own_build
from dockyard.events import Reporter
from dockyard.plan.metrics import PROMETHEUS_SERVICE
from dockyard.spec.loaded import LoadedEnvironment

CONTEXT = Path(__file__).parent / "prometheus_image"
IMAGE_REPOSITORY = "dockyard/prometheus"


def prometheus_build(base_image: str) -> BuildRequest:
    """How to build the Prometheus image ``FROM base_image``; the tag changes with
    its Dockerfile and the base image."""
    files = [CONTEXT / "Dockerfile"]
    return own_build(PROMETHEUS_SERVICE, IMAGE_REPOSITORY, CONTEXT, files, base_image)


def prometheus_images(engine: Images, env: LoadedEnvironment, report: Reporter) -> dict[str, str]:
    """Build the Prometheus image unless the engine has it: ``{"prometheus": tag}``,
    or nothing when the environment does not set ``metrics.prometheus``."""
    if env.spec.metrics.prometheus is None:
        return {}
    request = prometheus_build(env.spec.ingress.base_image)
    return {PROMETHEUS_SERVICE: ensure_built(engine, request, report)}
