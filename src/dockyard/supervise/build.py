"""The supervisor image: built on the engine from files that ship with Dockyard."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dockyard.engines.images import Images
from dockyard.engines.model import BuildRequest
from dockyard.events import Event, Reporter
from dockyard.plan.supervisor import SUPERVISOR_SERVICE
from dockyard.spec.loaded import LoadedEnvironment

IMAGE_DIR = Path(__file__).parent / "image"
"""The build context of the supervisor image (packaged with Dockyard)."""
IMAGE_REPOSITORY = "dockyard/supervisor"


def supervisor_build(base_image: str) -> BuildRequest:
    """How to build the supervisor image ``FROM base_image``. The tag changes with the
    image's files and the base image, so a new Dockyard builds a new image."""
    digest = hashlib.sha256(base_image.encode())
    for path in sorted(p for p in IMAGE_DIR.iterdir() if p.is_file()):
        digest.update(f"\0{path.name}\0".encode())
        digest.update(path.read_bytes())
    return BuildRequest(
        service=SUPERVISOR_SERVICE,
        context=IMAGE_DIR,
        dockerfile="Dockerfile",
        tag=f"{IMAGE_REPOSITORY}:{digest.hexdigest()[:12]}",
        args={"BASE_IMAGE": base_image},
    )


def supervisor_images(engine: Images, env: LoadedEnvironment, report: Reporter) -> dict[str, str]:
    """Build the supervisor image of ``env`` unless the engine has it:
    ``{"supervisor": tag}``. It is built ``FROM`` the ingress's base image, on the
    engine, and not pushed."""
    request = supervisor_build(env.spec.ingress.base_image)
    if not engine.image_present(request.tag):
        report(Event("build", request.service, f"building {request.tag}"))

        def progress(line: str) -> None:
            report(Event("output", request.service, line))

        engine.build(request, progress)
    return {SUPERVISOR_SERVICE: request.tag}
