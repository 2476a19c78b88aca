"""Dockyard's own small images (the supervisor, the catalog agent).

They are built on the engine from files that ship with Dockyard, ``FROM`` the
environment's base image, and never pushed. The tag is a digest of the files and
the base image, so a new Dockyard (or a new base) builds a new image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from dockyard.engines.images import Images
from dockyard.engines.model import BuildRequest
from dockyard.events import Event, Reporter


def own_build(
    service: str,
    repository: str,
    context: Path,
    files: Iterable[Path],
    base_image: str,
    dockerfile: str = "Dockerfile",
) -> BuildRequest:
    """How to build ``service``'s image from ``context``; ``files`` (under it) are
    what the image takes, hashed into its tag with ``base_image``."""
    digest = hashlib.sha256(base_image.encode())
    for path in sorted(files):
        digest.update(f"\0{path.relative_to(context)}\0".encode())
        digest.update(path.read_bytes())
    return BuildRequest(
        service=service,
        context=context,
        dockerfile=dockerfile,
        tag=f"{repository}:{digest.hexdigest()[:12]}",
        args={"BASE_IMAGE": base_image},
    )


def ensure_built(engine: Images, request: BuildRequest, report: Reporter) -> str:
    """Build ``request`` unless the engine has its tag; returns the tag."""
    if not engine.image_present(request.tag):
        report(Event("build", request.service, f"building {request.tag}"))

        def progress(line: str) -> None:
            report(Event("output", request.service, line))

        engine.build(request, progress)
    return request.tag
