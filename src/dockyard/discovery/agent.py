"""The catalog agent's image: built on the engine from files that ship with
Dockyard (the program in ``agent_image/`` and the registrars it runs), like the
supervisor's. Its definition is in ``dockyard.plan.discovery``."""

from __future__ import annotations

from pathlib import Path

from dockyard.engines.images import Images
from dockyard.engines.model import BuildRequest
from dockyard.engines.own_images import ensure_built, own_build
from dockyard.events import Reporter
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
    return own_build(
        AGENT_SERVICE, IMAGE_REPOSITORY, PACKAGE, _files(), base_image, dockerfile=DOCKERFILE
    )


def agent_images(engine: Images, env: LoadedEnvironment, report: Reporter) -> dict[str, str]:
    """Build the agent image unless the engine has it: ``{"catalog-agent": tag}``,
    or nothing when the environment runs no agent (``wants_agent``). Built ``FROM`` the
    ingress's base image, on the engine, and not pushed."""
    if not wants_agent(env):
        return {}
    request = agent_build(env.spec.ingress.base_image)
    return {AGENT_SERVICE: ensure_built(engine, request, report)}
