"""Build the images an environment needs, through its engine."""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.deploy.events import Event, Reporter, silent
from dockyard.engines.base import BuildRequest, Engine
from dockyard.spec.loaded import LoadedEnvironment


def build_requests(env: LoadedEnvironment) -> list[BuildRequest]:
    """One request per accessory or service that builds its own image."""
    requests: list[BuildRequest] = []
    for name, acc in env.spec.accessories.items():
        if acc.build is not None:
            requests.append(
                BuildRequest(
                    service=name,
                    context=(env.path.parent / acc.build.build).resolve(),
                    dockerfile=acc.build.dockerfile,
                    tag=image_tag(env.name, name),
                    args=dict(acc.build.args),
                    target=acc.build.target,
                    labels={"dockyard.service": name},
                )
            )
    for svc in env.services:
        image = svc.spec.image
        if image is not None:
            requests.append(
                BuildRequest(
                    service=svc.name,
                    context=(svc.path.parent / image.build).resolve(),
                    dockerfile=image.dockerfile,
                    tag=image_tag(env.name, svc.name),
                    args=dict(image.args),
                    target=image.target,
                    labels={"dockyard.service": svc.name},
                )
            )
    return requests


def image_tag(environment: str, service: str) -> str:
    """The tag a local build gets. Containers run the image ID, never the tag; the
    image carries no environment-specific label, so every environment built from
    the same sources gets the same image ID."""
    return f"dockyard/{service}:{environment}"


def build_images(
    engine: Engine,
    env: LoadedEnvironment,
    only: Iterable[str] | None = None,
    report: Reporter = silent,
) -> dict[str, str]:
    """Build every image of ``env`` (or those of ``only``); name → image ID."""
    wanted = set(only) if only is not None else None
    images: dict[str, str] = {}
    for request in build_requests(env):
        if wanted is not None and request.service not in wanted:
            continue
        report(Event("build", request.service, f"building {request.tag}"))

        def progress(line: str, subject: str = request.service) -> None:
            report(Event("output", subject, line))

        images[request.service] = engine.build(request, progress)
        report(Event("build", request.service, f"built {images[request.service][:19]}"))
    return images
