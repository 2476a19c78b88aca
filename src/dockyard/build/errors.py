"""The errors of building images, each with a stable code (the registry's are in
:mod:`dockyard.errors`, where the engines may use them too).

Documents and scripts may refer to the codes; they never change meaning.
``docs/images.md`` lists them.
"""

from __future__ import annotations

from dockyard.errors import BuildError


class DirtySource(BuildError):
    """A protected environment refuses an image built from uncommitted sources."""

    code = "DY401"


class SourceVersionError(BuildError):
    """git could not tell the version of a source folder or file."""

    code = "DY402"


class UnknownImage(BuildError):
    """A build was asked for a service or accessory that builds no image."""

    code = "DY403"
