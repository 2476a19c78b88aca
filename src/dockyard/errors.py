"""Dockyard's error hierarchy.

Every error a user can see carries a stable code, a message, a hint on how to
fix it and, where there is one, the location in a spec file. Driver exceptions
(docker-py, YAML, pydantic) are translated into these at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """A place in a spec file: 1-based line and column."""

    file: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class DockyardError(Exception):
    """Base of every error Dockyard reports to a user.

    ``code`` is stable across releases (documents and scripts may refer to it);
    ``exit_code`` is what the CLI exits with.
    """

    code = "DY000"
    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: Location | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "location": (
                {
                    "file": str(self.location.file),
                    "line": self.location.line,
                    "column": self.location.column,
                }
                if self.location
                else None
            ),
        }


class SpecError(DockyardError):
    """A spec, params or environment file is invalid."""

    code = "DY100"


class SpecErrors(DockyardError):
    """Several spec errors found in one pass; reported together."""

    code = "DY100"

    def __init__(self, errors: list[SpecError]) -> None:
        first = errors[0]
        super().__init__(first.message, hint=first.hint, location=first.location, code=first.code)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class RepoError(DockyardError):
    """The environment repo or an environment cannot be found."""

    code = "DY200"


class EngineError(DockyardError):
    """The engine refused or failed an operation."""

    code = "DY300"


class EngineUnreachable(EngineError):
    """No engine answers at the configured address."""

    code = "DY301"


class BuildError(DockyardError):
    """An image build failed."""

    code = "DY400"


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


class DeployError(DockyardError):
    """A deploy could not reach the desired state."""

    code = "DY500"


class StateError(DockyardError):
    """The state store (release history, audit, deploy locks) failed or refused."""

    code = "DY600"


class SecretsError(DockyardError):
    """A secrets file cannot be read, decrypted or trusted; or a key is missing."""

    code = "DY700"
