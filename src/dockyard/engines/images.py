"""``Images``: building, naming, moving and removing the images an engine runs.

A reference is an image ID, ``repository:tag`` or ``repository@sha256:...``.
Registry refusals raise the errors of :mod:`dockyard.errors`: RegistryAuthError
for credentials, NotInRegistry for an unknown tag or digest, RegistryError
otherwise.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dockyard.engines.model import (
    BuildRequest,
    ImageSelection,
    ProgressFn,
    RegistryAuth,
    RemovedImage,
)


@runtime_checkable
class Images(Protocol):
    """The images of one engine: built there, pulled to it, pushed from it."""

    def build(self, request: BuildRequest, progress: ProgressFn) -> str:
        """Build an image; returns its immutable ID (``sha256:...``). Raises BuildError."""
        ...

    def image_present(self, ref: str) -> bool:
        """Whether the engine has the image ``ref`` locally."""
        ...

    def image_id(self, ref: str) -> str | None:
        """The ID (``sha256:...``) of the local image ``ref``; None when the engine lacks it."""
        ...

    def pull(self, ref: str, auth: RegistryAuth | None, progress: ProgressFn) -> None:
        """Pull ``ref`` from its registry, by digest (``repository@sha256:...``) or tag."""
        ...

    def tag(self, image: str, repository: str, tag: str) -> None:
        """Name the local image ``image`` (ID or reference) ``repository:tag``."""
        ...

    def push(
        self, repository: str, tag: str, auth: RegistryAuth | None, progress: ProgressFn
    ) -> str:
        """Push the local ``repository:tag``; returns the digest of the manifest the
        registry stored (``sha256:...``)."""
        ...

    def remove_images(self, selection: ImageSelection) -> list[RemovedImage]:
        """Remove the local images (or names of them) ``selection`` picks; never from a
        registry. An image a container uses (running or not) is left, with a note
        naming the container."""
        ...
