"""The supervisor image: built on the engine from files that ship with Dockyard."""

from __future__ import annotations

from pathlib import Path

from dockyard.engines.images import Images
from dockyard.engines.model import BuildRequest
from dockyard.engines.own_images import ensure_built, own_build
from dockyard.events import Reporter
from dockyard.plan.supervisor import SUPERVISOR_SERVICE
from dockyard.spec.loaded import LoadedEnvironment

IMAGE_DIR = Path(__file__).parent / "image"
"""The build context of the supervisor image (packaged with Dockyard)."""
IMAGE_REPOSITORY = "dockyard/supervisor"


def supervisor_build(base_image: str) -> BuildRequest:
    """How to build the supervisor image ``FROM base_image``. The tag changes with the
    image's files and the base image, so a new Dockyard builds a new image."""
    files = (p for p in IMAGE_DIR.iterdir() if p.is_file())
    return own_build(SUPERVISOR_SERVICE, IMAGE_REPOSITORY, IMAGE_DIR, files, base_image)


def supervisor_images(engine: Images, env: LoadedEnvironment, report: Reporter) -> dict[str, str]:
    """Build the supervisor image of ``env`` unless the engine has it:
    ``{"supervisor": tag}``. It is built ``FROM`` the ingress's base image, on the
    engine, and not pushed."""
    request = supervisor_build(env.spec.ingress.base_image)
    return {SUPERVISOR_SERVICE: ensure_built(engine, request, report)}
