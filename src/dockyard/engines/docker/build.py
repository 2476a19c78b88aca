"""Building an image through the engine's build API, streaming its output.

The daemon sends JSON chunks: ``stream`` (builder output, not always whole
lines), ``status`` (pulling a base image), ``aux`` (the image ID) and, when the
build fails, ``error``. Output goes to ``progress`` line by line; a failure
becomes a BuildError that quotes the last lines, and says how to get a missing
base image when the failing step is a ``FROM``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import docker
import docker.errors

from dockyard.engines.docker.connection import translate_errors
from dockyard.engines.model import BuildRequest, ProgressFn
from dockyard.errors import BuildError
from dockyard.plan.model import LABEL_SERVICE

TAIL_LINES = 20
_FROM_STEP = re.compile(r"^Step \d+/\d+ : FROM\s+(\S+)", re.IGNORECASE)

BASE_IMAGE_HINT = (
    "The base image {image} is not on the engine and could not be pulled. Run `make bootstrap` "
    "in the Dockyard repo to create dockyard/base:bookworm, or pull the image or mirror it "
    "into a registry the engine can reach (and point the FROM line or its build arg there)."
)
STEP_HINT = "Fix the failing step of {dockerfile} (its output is above) and build again."


class _Lines:
    """Splits streamed text into whole lines, keeping the last few for errors."""

    def __init__(self, progress: ProgressFn) -> None:
        self.progress = progress
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.partial = ""
        self.step = ""

    def feed(self, text: str) -> None:
        *complete, self.partial = (self.partial + text).split("\n")
        for line in complete:
            self.emit(line)

    def flush(self) -> None:
        if self.partial:
            self.emit(self.partial)
            self.partial = ""

    def emit(self, line: str) -> None:
        line = line.rstrip("\r")
        if not line.strip():
            return
        if line.startswith("Step "):
            self.step = line
        self.tail.append(line)
        self.progress(line)


def build_image(
    client: docker.DockerClient, address: str, request: BuildRequest, progress: ProgressFn
) -> str:
    """Build ``request`` and return the image ID (``sha256:...``)."""
    api = client.api
    context = request.context
    if not context.is_dir():
        raise BuildError(
            f"cannot build {request.tag}: the build context {context} is not a folder",
            hint="Check image.build in the service spec; it is relative to the spec file.",
        )
    if not (context / request.dockerfile).is_file():
        raise BuildError(
            f"cannot build {request.tag}: there is no {request.dockerfile} in {context}",
            hint="Add the Dockerfile, or name it with image.dockerfile in the service spec.",
        )
    lines = _Lines(progress)
    image_id: str | None = None
    with translate_errors(address, f"build {request.tag}", error=BuildError):
        chunks: Iterable[Mapping[str, Any]] = api.build(
            path=str(context),
            dockerfile=request.dockerfile,
            tag=request.tag,
            buildargs=dict(request.args) or None,
            labels={LABEL_SERVICE: request.service, **request.labels},
            target=request.target,
            rm=True,
            forcerm=True,
            decode=True,
            timeout=None,
        )
        for chunk in chunks:
            if "stream" in chunk:
                lines.feed(str(chunk["stream"]))
            elif "error" in chunk or "errorDetail" in chunk:
                lines.flush()
                raise _failed(client, request, lines, chunk)
            elif "status" in chunk and "progress" not in chunk:
                lines.feed(" ".join(str(chunk[k]) for k in ("id", "status") if k in chunk) + "\n")
            aux = chunk.get("aux")
            if isinstance(aux, Mapping) and str(aux.get("ID", "")).startswith("sha256:"):
                image_id = str(aux["ID"])
        lines.flush()
        if image_id is None:  # older engines report only the tag
            image_id = str(client.images.get(request.tag).id)
    return image_id


def _failed(
    client: docker.DockerClient, request: BuildRequest, lines: _Lines, chunk: Mapping[str, Any]
) -> BuildError:
    detail = chunk.get("errorDetail")
    error = str(chunk.get("error") or (detail or {}).get("message") or "unknown error").strip()
    hint = STEP_HINT.format(dockerfile=request.dockerfile)
    base = _FROM_STEP.match(lines.step)
    if base and not _image_exists(client, base.group(1)):
        hint = BASE_IMAGE_HINT.format(image=base.group(1))
    tail = "\n".join(f"  {line}" for line in lines.tail)
    return BuildError(
        f"building {request.tag} failed: {error}\nlast {len(lines.tail)} lines of output:\n{tail}",
        hint=hint,
    )


def _image_exists(client: docker.DockerClient, image: str) -> bool:
    if "$" in image:  # set by a build arg; the step failing is the best evidence there is
        return False
    try:
        client.images.get(image)
    except docker.errors.NotFound:
        return False
    return True
