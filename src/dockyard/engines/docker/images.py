"""Images on the engine: look them up, tag them, push them to and pull them from a registry.

Push and pull stream JSON chunks: ``status`` (per layer, with ``id``),
``progress``/``progressDetail`` (byte counts), ``aux`` (after a push: the tag,
the manifest's digest and its size) and, when the registry refuses, ``error``
with ``errorDetail``. Layer states go to ``progress`` once per change, not once
per chunk. Some refusals come before the stream starts, as an HTTP error of
the engine; both kinds become the same registry errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import docker
import docker.auth
import docker.errors
import docker.utils

from dockyard.build.errors import NotInRegistry, RegistryAuthError, RegistryError
from dockyard.engines.base import ProgressFn, RegistryAuth
from dockyard.engines.docker.connection import explanation, translate_errors

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_LOCAL_ID = re.compile(r"^(sha256:)?[0-9a-f]{64}$")
_STATUS_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_AUTH_WORDS = (
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "denied",
    "incorrect username or password",
)
_MISSING_WORDS = ("manifest unknown", "not found")

AUTH_HINT = "Check the registry's username and password (registry: in the environment file)."
REACH_HINT = "Check that the registry at {registry} runs and that the engine can reach it."
MISSING_HINT = "Check the reference; push the image to that registry first (dockyard build)."


def image_id(client: docker.DockerClient, ref: str) -> str | None:
    """The ID of the local image ``ref`` (ID, ``repo:tag`` or ``repo@digest``), or None."""
    try:
        return str(client.images.get(ref).id)
    except docker.errors.NotFound:
        return None


def tag(api: docker.APIClient, address: str, image: str, repository: str, tag: str) -> None:
    """Give the local image ``image`` the name ``repository:tag`` (moving it if taken)."""
    with translate_errors(address, f"tag {image} as {repository}:{tag}"):
        if not api.tag(image, repository, tag, force=True):
            raise RegistryError(f"the engine did not tag {image} as {repository}:{tag}")


def push(
    api: docker.APIClient,
    address: str,
    repository: str,
    tag: str,
    auth: RegistryAuth | None,
    progress: ProgressFn,
) -> str:
    """Push ``repository:tag``; returns the digest (``sha256:...``) the registry stored."""
    ref = f"{repository}:{tag}"
    status = _Status(progress)
    digest: str | None = None
    # A missing local image is an HTTP error of the engine; the registry's refusals
    # come in the stream.
    with translate_errors(address, f"push {ref}", error=RegistryError):
        chunks: Iterable[Mapping[str, Any]] = api.push(
            repository,
            tag=tag,
            stream=True,
            decode=True,
            auth_config=dict(auth) if auth is not None else None,
        )
        for chunk in chunks:
            _raise_for(chunk, f"push {ref}", repository)
            status.feed(chunk)
            aux = chunk.get("aux")
            if isinstance(aux, Mapping) and DIGEST.match(str(aux.get("Digest", ""))):
                digest = str(aux["Digest"])
            elif digest is None and (found := _STATUS_DIGEST.search(status.text(chunk))):
                digest = found.group(1)
    if digest is None:
        raise RegistryError(
            f"pushed {ref}, but the engine did not report the digest the registry stored",
            hint="Push again; if it happens every time, check the engine's and registry's logs.",
        )
    return digest


def pull(
    api: docker.APIClient,
    address: str,
    ref: str,
    auth: RegistryAuth | None,
    progress: ProgressFn,
) -> None:
    """Pull ``ref`` (``repo@sha256:...`` or ``repo:tag``) onto the engine."""
    if _LOCAL_ID.match(ref):
        raise NotInRegistry(
            f"cannot pull {ref}: it is the ID of a local image, not an image in a registry",
            hint=MISSING_HINT,
        )
    repository = docker.utils.parse_repository_tag(ref)[0]
    status = _Status(progress)
    with translate_errors(address, f"pull {ref}", error=RegistryError):
        try:
            chunks: Iterable[Mapping[str, Any]] = api.pull(
                ref,
                stream=True,
                decode=True,
                auth_config=dict(auth) if auth is not None else None,
            )
            for chunk in chunks:
                _raise_for(chunk, f"pull {ref}", repository)
                status.feed(chunk)
        except docker.errors.APIError as e:
            # The engine answers an error of the registry before it starts the stream.
            if e.status_code is not None and e.status_code < 500 and e.status_code != 404:
                raise
            raise _classified(explanation(e), f"pull {ref}", repository) from e


class _Status:
    """Sends each layer's state to ``progress`` when it changes."""

    def __init__(self, progress: ProgressFn) -> None:
        self.progress = progress
        self.last: dict[str, str] = {}

    @staticmethod
    def text(chunk: Mapping[str, Any]) -> str:
        return str(chunk.get("status") or "")

    def feed(self, chunk: Mapping[str, Any]) -> None:
        text = self.text(chunk).strip()
        if not text:
            return
        layer = str(chunk.get("id") or "")
        if layer:
            if self.last.get(layer) == text:
                return
            self.last[layer] = text
            self.progress(f"{layer}: {text}")
        else:
            self.progress(text)


def _raise_for(chunk: Mapping[str, Any], action: str, repository: str) -> None:
    if "error" not in chunk and "errorDetail" not in chunk:
        return
    detail = chunk.get("errorDetail")
    message = str(
        chunk.get("error")
        or (detail.get("message") if isinstance(detail, Mapping) else None)
        or "unknown error"
    ).strip()
    raise _classified(message, action, repository)


def _classified(message: str, action: str, repository: str) -> RegistryError:
    lowered = message.lower()
    registry = registry_of(repository)
    if any(word in lowered for word in _AUTH_WORDS):
        return RegistryAuthError(
            f"cannot {action}: the registry {registry} refused the credentials ({message})",
            hint=AUTH_HINT,
        )
    if any(word in lowered for word in _MISSING_WORDS):
        return NotInRegistry(f"cannot {action}: {message}", hint=MISSING_HINT)
    return RegistryError(f"cannot {action}: {message}", hint=REACH_HINT.format(registry=registry))


def registry_of(repository: str) -> str:
    """The registry host of ``repository`` (``docker.io`` for Docker Hub's)."""
    try:
        return str(docker.auth.resolve_repository_name(repository)[0])
    except docker.errors.DockerException:
        return repository.split("/", 1)[0]
