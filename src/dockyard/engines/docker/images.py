"""Images on the engine: look them up, tag them, push them to and pull them from a
registry, remove those of one owner.

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
from contextlib import suppress
from typing import Any

import docker
import docker.auth
import docker.errors
import docker.utils

from dockyard.engines.docker.connection import explanation, is_conflict, translate_errors
from dockyard.engines.model import ImageSelection, ProgressFn, RegistryAuth, RemovedImage
from dockyard.errors import NotInRegistry, RegistryAuthError, RegistryError

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


def remove_images(
    api: docker.APIClient, address: str, selection: ImageSelection
) -> list[RemovedImage]:
    """Remove what ``selection`` picks (see :class:`ImageSelection`), name by name, so that
    an image keeps any name that is not the owner's. One listing of the images and one of
    the containers tell what to remove and what is in use."""
    with translate_errors(address, "list images and containers"):
        summaries: list[dict[str, Any]] = api.images()
        containers: list[dict[str, Any]] = api.containers(all=True)
    users: dict[str, list[str]] = {}
    for c in containers:
        name = str((c.get("Names") or ["?"])[0]).lstrip("/")
        users.setdefault(str(c.get("ImageID", "")), []).append(name)
    prefix = selection.namespace + "/"
    removed: list[RemovedImage] = []
    for summary in summaries:
        image = str(summary["Id"])
        names = _names(summary)
        owned = bool(selection.labels) and all(
            (summary.get("Labels") or {}).get(k) == v for k, v in selection.labels.items()
        )
        ours = [
            n for n in names if n in selection.refs or (owned and _repository(n).startswith(prefix))
        ]
        if not ours and not (owned and not names):
            continue
        if image in users:
            note = f"used by container {', '.join(sorted(users[image]))}"
            removed.append(RemovedImage(image, [], False, note, kept=ours))
            continue
        removed.append(_remove(api, address, image, ours, [n for n in names if n not in ours]))
    return removed


def _remove(
    api: docker.APIClient, address: str, image: str, ours: list[str], others: list[str]
) -> RemovedImage:
    gone: list[str] = []
    with translate_errors(address, f"remove image {image[:19]}"):
        try:
            for name in ours:
                with suppress(docker.errors.NotFound):  # went with the repository's last tag
                    api.remove_image(name)
                gone.append(name)
            if not others:
                with suppress(docker.errors.NotFound):  # went with its last name
                    api.remove_image(image)
        except docker.errors.APIError as e:
            if not is_conflict(e):
                raise
            left = [n for n in ours if n not in gone]
            return RemovedImage(image, gone, False, explanation(e), kept=left)
    note = f"still named {', '.join(others)}" if others else None
    return RemovedImage(image, gone, not others, note)


def _names(summary: Mapping[str, Any]) -> list[str]:
    found = [*(summary.get("RepoTags") or []), *(summary.get("RepoDigests") or [])]
    return [str(n) for n in found if not str(n).startswith("<none>")]


def _repository(name: str) -> str:
    """The repository of ``repository:tag`` or ``repository@sha256:...``."""
    if "@" in name:
        return name.partition("@")[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name
