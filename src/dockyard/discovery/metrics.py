"""The image of an environment's Prometheus: Debian's prometheus, built on the
engine ``FROM`` the ingress's base image, like the catalog agent's. Its definition
is in ``dockyard.plan.metrics``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dockyard.engines.images import Images
from dockyard.engines.model import BuildRequest
from dockyard.events import Event, Reporter
from dockyard.plan.metrics import PROMETHEUS_SERVICE
from dockyard.spec.loaded import LoadedEnvironment

CONTEXT = Path(__file__).parent / "prometheus_image"
IMAGE_REPOSITORY = "dockyard/prometheus"


def prometheus_build(base_image: str) -> BuildRequest:
    """How to build the Prometheus image ``FROM base_image``; the tag changes with
    its Dockerfile and the base image."""
    digest = hashlib.sha256(base_image.encode())
    digest.update((CONTEXT / "Dockerfile").read_bytes())
    return BuildRequest(
        service=PROMETHEUS_SERVICE,
        context=CONTEXT,
        dockerfile="Dockerfile",
        tag=f"{IMAGE_REPOSITORY}:{digest.hexdigest()[:12]}",
        args={"BASE_IMAGE": base_image},
    )


def prometheus_images(engine: Images, env: LoadedEnvironment, report: Reporter) -> dict[str, str]:
    """Build the Prometheus image unless the engine has it: ``{"prometheus": tag}``,
    or nothing when the environment does not set ``metrics.prometheus``."""
    if env.spec.metrics.prometheus is None:
        return {}
    request = prometheus_build(env.spec.ingress.base_image)
    if not engine.image_present(request.tag):
        report(Event("build", request.service, f"building {request.tag}"))

        def progress(line: str) -> None:
            report(Event("output", request.service, line))

        engine.build(request, progress)
    return {PROMETHEUS_SERVICE: request.tag}
