"""Shipping images: push a build to the environment's registry, copy an image from one
registry to another without changing it, and make sure an engine has an image
before it runs it by digest.

What is deployable is ``<repository>@<digest>``: a tag can move, a digest
cannot. Pushing the same tag again with other content gives a new digest and
leaves the old one in the registry, so what runs by digest stays what it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from dockyard.build.credentials import auth_config, auth_hint
from dockyard.build.images import BuiltImage
from dockyard.build.naming import image_repository
from dockyard.build.registry_api import has_manifest
from dockyard.build.versions import SHORT
from dockyard.engines.images import Images
from dockyard.engines.model import ProgressFn, RegistryAuth
from dockyard.errors import DigestMismatch, NotInRegistry, RegistryAuthError, RegistryError
from dockyard.spec.environment import RegistryConfig

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def digest_ref(repository: str, digest: str) -> str:
    """``<repository>@<digest>``: the reference a deploy runs."""
    return f"{repository}@{digest}"


def split_digest_ref(ref: str) -> tuple[str, str] | None:
    """``(repository, digest)`` of a ``repository@sha256:...`` reference; None for others."""
    repository, at, digest = ref.partition("@")
    if not at or not repository or not _DIGEST.match(digest):
        return None
    return repository, digest


def push(engine: Images, built: BuiltImage, registry: RegistryConfig, progress: ProgressFn) -> str:
    """Push ``built`` to ``registry``; returns the digest (``sha256:...``) it is stored under.

    The image is pushed as ``<registry url>/<project>/<service>:<tag>`` (tagged so
    first if it was built under another name). Credentials come from the environment
    (:mod:`dockyard.build.credentials`).
    """
    auth = auth_config(registry)
    repository = image_repository(registry, built.project, built.service)
    if repository != built.repository:
        engine.tag(built.image_id, repository, built.tag)
    with _hint_for(registry):
        return engine.push(repository, built.tag, auth, progress)


def ensure_image(engine: Images, ref: str, auth: RegistryAuth | None, progress: ProgressFn) -> str:
    """Make sure the engine has ``ref`` (pull it when missing); returns the image ID."""
    found = engine.image_id(ref)
    if found is not None:
        return found
    engine.pull(ref, auth, progress)
    found = engine.image_id(ref)
    if found is None:
        raise RegistryError(
            f"pulled {ref}, but the engine does not find it",
            hint="Pull it again; if it keeps missing, check the engine's logs.",
        )
    return found


def copy_image(
    engine: Images,
    source_ref: str,
    source_auth: RegistryAuth | None,
    dest: RegistryConfig,
    repository_name: str,
    progress: ProgressFn,
    *,
    tag: str | None = None,
) -> str:
    """Copy the image ``source_ref`` into ``<dest url>/<repository_name>`` (such as
    ``<project>/<service>``); returns its digest.

    ``source_ref`` is ``repository@sha256:...`` (pulled with ``source_auth`` when the
    engine lacks it) or a local image (an ID, from an environment without a
    registry). A digest the destination holds already is not copied again. The
    copy is pushed under ``tag`` (default: ``sha256-`` and 12 hex digits of the
    source's digest or ID) and must keep the source's digest; if the registry
    stores it under another one, DigestMismatch: it would not be the same artifact.
    """
    auth = auth_config(dest)  # a missing password fails before anything is pulled
    repository = f"{dest.url}/{repository_name}"
    source = split_digest_ref(source_ref)
    if source is not None and has_manifest(dest, repository_name, source[1]):
        progress(f"{digest_ref(repository, source[1])} is in {dest.url} already")
        return source[1]
    if source is not None:
        image_id = ensure_image(engine, source_ref, source_auth, progress)
    else:
        local = engine.image_id(source_ref)
        if local is None:
            raise NotInRegistry(
                f"cannot copy {source_ref}: the engine has no such image",
                hint="Build it first (dockyard build), or name it by its repository@digest.",
            )
        image_id = local
    name = source[1] if source is not None else image_id
    tag = tag or f"sha256-{name.removeprefix('sha256:')[:SHORT]}"
    engine.tag(image_id, repository, tag)
    with _hint_for(dest):
        pushed = engine.push(repository, tag, auth, progress)
    if source is not None and pushed != source[1]:
        raise DigestMismatch(
            f"copying {source_ref} to {dest.url} changed its digest: the registry stores it "
            f"as {digest_ref(repository, pushed)}, so it would not be the same artifact; "
            f"the tag {repository}:{tag} points at that copy, and nothing uses it",
            hint="A rebuild would not be the same image either. Copy the manifest byte for "
            "byte with a registry tool (for example `skopeo copy`), then promote again: "
            "a digest the destination holds already is used as it is.",
        )
    return pushed


@contextmanager
def _hint_for(registry: RegistryConfig) -> Iterator[None]:
    """Refusals of the registry get a hint naming the settings to check."""
    try:
        yield
    except RegistryAuthError as e:
        raise RegistryAuthError(e.message, hint=auth_hint(registry)) from e
