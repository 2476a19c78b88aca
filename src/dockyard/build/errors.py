"""The errors of building, shipping and copying images, each with a stable code.

Documents and scripts may refer to the codes; they never change meaning.
``docs/images.md`` lists them.
"""

from __future__ import annotations

from dockyard.errors import BuildError, DockyardError


class DirtySource(BuildError):
    """A protected environment refuses an image built from uncommitted sources."""

    code = "DY401"


class SourceVersionError(BuildError):
    """git could not tell the version of a source folder or file."""

    code = "DY402"


class UnknownImage(BuildError):
    """A build was asked for a service or accessory that builds no image."""

    code = "DY403"


class RegistryError(DockyardError):
    """A registry could not be reached, or refused or failed a push or a pull."""

    code = "DY410"


class RegistryAuthError(RegistryError):
    """The registry refused the credentials (or asked for some and got none)."""

    code = "DY411"


class MissingCredentials(RegistryError):
    """The environment names a password variable that is not set, or no username."""

    code = "DY412"


class DigestMismatch(RegistryError):
    """A copied image got another digest in the destination: it would not be the same artifact."""

    code = "DY413"


class NotInRegistry(RegistryError):
    """The registry does not have the image (that tag or digest) asked for."""

    code = "DY414"
