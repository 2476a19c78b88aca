"""Which secret a container's spec names: its file and its version. Pure: no I/O.

A service's container finds a secret in the service's own secrets file for the
environment first, then in the environment's shared one; an accessory in the
shared one only. What the files hold (names and versions, never values) is read
by the deploy layer into a :class:`SecretCatalog`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import Location, SpecError
from dockyard.plan.model import SecretDef
from dockyard.spec.hints import did_you_mean
from dockyard.spec.models import SecretUse

SHARED = ""
"""The scope of the environment's shared secrets file."""


@dataclass(frozen=True)
class SecretCatalog:
    """The secrets files of an environment by scope (a service's name, or ``SHARED``):
    where each is, and the version of each name it holds (absent: no such file)."""

    files: Mapping[str, Path] = field(default_factory=dict)
    versions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def resolve(
        self, uses: Iterable[SecretUse], scopes: Sequence[str], location: Location | None
    ) -> list[SecretDef]:
        """The definitions of ``uses``, looked up in ``scopes`` in order; a name none
        of them holds is a spec error at ``location``."""
        return [self._one(use, scopes, location) for use in uses]

    def _one(self, use: SecretUse, scopes: Sequence[str], location: Location | None) -> SecretDef:
        for scope in scopes:
            version = self.versions.get(scope, {}).get(use.name)
            if version is not None:
                return SecretDef(
                    name=use.name,
                    scope=scope,
                    version=version,
                    uid=use.uid,
                    gid=use.gid,
                    mode=use.mode,
                    env=use.env,
                )
        files = [str(self.files[s]) for s in scopes if s in self.files]
        known = [n for s in scopes for n in self.versions.get(s, {})]
        missing = [str(self.files[s]) for s in scopes if s in self.files and s not in self.versions]
        hint = did_you_mean(use.name, known, listing="its secrets")
        if missing and not known:
            hint = f"there is no secrets file yet ({', '.join(missing)}); " + (
                f"add it with `dockyard secrets set ENV [SERVICE] {use.name}`"
            )
        raise SpecError(
            f"no secret {use.name!r} in {' or '.join(files) or 'the secrets files'}",
            hint=hint,
            location=location,
        )
