"""The catalog agent's image: built on the engine from files that ship with
Dockyard (the program in ``agent_image/`` and the registrars it runs), like the
supervisor's. Its definition is in ``dockyard.plan.discovery``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dockyard.engines.images import Images
from dockyard.engines.model import BuildRequest
from dockyard.events import Event, Reporter
from dockyard.plan.discovery import AGENT_SERVICE, wants_agent
from dockyard.spec.loaded import LoadedEnvironment

PACKAGE = Path(__file__).parent.parent
"""The build context: the dockyard package (its .dockerignore keeps what the image takes)."""
DOCKERFILE = "discovery/agent_image/Dockerfile"
IMAGE_REPOSITORY = "dockyard/catalog-agent"


def _files() -> list[Path]:
    here = Path(__file__).parent
    return sorted(
        [
            PACKAGE / "__init__.py",
            PACKAGE / "errors.py",
            PACKAGE / ".dockerignore",
            *(here / "registrars").glob("*.py"),
            *(p for p in (here / "agent_image").iterdir() if p.is_file()),
        ]
    )


def agent_build(base_image: str) -> BuildRequest:
    """How to build the agent image ``FROM base_image``; the tag changes with the
    files it takes and the base image."""
    digest = hashlib.sha256(base_image.encode())
    for path in _files():
        digest.update(f"\0{path.relative_to(PACKAGE)}\0".encode())
        digest.update(path.read_bytes())
    return BuildRequest(
        service=AGENT_SERVICE,
        context=PACKAGE,
        dockerfile=DOCKERFILE,
        tag=f"{IMAGE_REPOSITORY}:{digest.hexdigest()[:12]}",
        args={"BASE_IMAGE": base_image},
    )


def agent_images(engine: Images, env: LoadedEnvironment, report: Reporter) -> dict[str, str]:
    """Build the agent image unless the engine has it: ``{"catalog-agent": tag}``,
    or nothing when the environment runs no agent (``wants_agent``). Built ``FROM`` the
    ingress's base image, on the engine, and not pushed."""
    if not wants_agent(env):
        return {}
    request = agent_build(env.spec.ingress.base_image)
    if not engine.image_present(request.tag):
        report(Event("build", request.service, f"building {request.tag}"))

        def progress(line: str) -> None:
            report(Event("output", request.service, line))

        engine.build(request, progress)
    return {AGENT_SERVICE: request.tag}
