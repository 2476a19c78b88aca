"""Who may read and who may change each environment's secrets: ``policies.yaml``
in the environment repo.

::

    principals:                 # people and CI identities, by name
      alice: {age: age1...}
      ci-prod: {age: age1..., kms: arn:aws:kms:...}
          # a writer also signs: `dockyard secrets keygen` prints the line
      # alice: {age: age1..., signing: ed25519:...}
    environments:
      staging: {read: [alice, ci-prod], write: [alice]}
      prod: {read: [alice, ci-prod], write: [alice], protected: true}

An environment's readers are exactly the master keys its secrets files are
encrypted for: adding a reader and ``dockyard secrets rekey`` lets them
decrypt; removing one takes ``rekey`` and then ``rotate`` (a new data key), as
they may have kept the old one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dockyard.errors import SecretsError, SpecError
from dockyard.secrets.age import AgeRecipient
from dockyard.secrets.keys import Recipient
from dockyard.secrets.kms import KmsKey
from dockyard.spec.yamlsource import load_yaml

POLICY_FILE = "policies.yaml"
EXAMPLE = """principals:
  alice: {age: age1...}        # `age-keygen -y KEYFILE` prints it
environments:
  local: {read: [alice], write: [alice]}"""


class Principal(BaseModel):
    """A person or a CI identity: the master keys that are theirs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    age: list[str] = Field(default_factory=list)
    kms: list[str] = Field(default_factory=list)
    signing: list[str] = Field(default_factory=list)  # Ed25519 public keys (secrets.signing)

    @field_validator("age", "kms", "signing", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class Access(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    read: list[str] = Field(default_factory=list)
    write: list[str] = Field(default_factory=list)
    protected: bool = False  # every file must verify (signed by a writer, for the readers)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    principals: dict[str, Principal] = Field(default_factory=dict)
    environments: dict[str, Access] = Field(default_factory=dict)

    def access(self, environment: str, where: Path) -> Access:
        found = self.environments.get(environment)
        if found is None:
            raise SecretsError(
                f"{where} says nothing of environment {environment}: nobody may read its secrets",
                hint=f"add `{environment}: {{read: [NAME], write: [NAME]}}` under environments:",
            )
        for name in [*found.read, *found.write]:
            if name not in self.principals:
                raise SecretsError(
                    f"{where}: environment {environment} names {name!r}, who is not a principal",
                    hint=f"principals: {', '.join(sorted(self.principals)) or 'none'}",
                )
        return found

    def readers(self, environment: str, where: Path) -> list[Recipient]:
        """The master keys ``environment``'s secrets are encrypted for, in policy order."""
        recipients: list[Recipient] = []
        for name in self.access(environment, where).read:
            principal = self.principals[name]
            try:
                recipients += [AgeRecipient(r) for r in principal.age]
                recipients += [KmsKey(arn) for arn in principal.kms]
            except SecretsError as e:
                raise SecretsError(f"{where}: principal {name}: {e.message}", hint=e.hint) from None
        if not recipients:
            raise SecretsError(f"{where}: environment {environment} has no readers")
        return recipients

    def writer(self, environment: str, keys: Iterable[str], where: Path) -> str:
        """The principal, among those that may change ``environment``'s secrets, that
        one of ``keys`` (age recipients of the identities at hand) belongs to."""
        access = self.access(environment, where)
        mine = set(keys)
        for name in access.write:
            if mine & set(self.principals[name].age):
                return name
        owners = sorted({o for k in mine if (o := self.owner(environment, k))})
        who = f"your keys are {', '.join(owners)}'s" if owners else "no principal has your keys"
        raise SecretsError(
            f"{where}: you may not change the secrets of {environment} ({who}); "
            f"its writers are {', '.join(access.write) or 'nobody'}",
            hint="point SOPS_AGE_KEY_FILE at a writer's age identity",
        )

    def signer(self, key: str) -> str | None:
        """The principal whose signing key ``key`` is."""
        return next((n for n, p in self.principals.items() if key in p.signing), None)

    def owner(self, environment: str, recipient: str) -> str | None:
        """The principal a master key belongs to, if the policy knows it."""
        for name, principal in self.principals.items():
            if recipient in principal.age or recipient in principal.kms:
                return name
        return None


def load_policy(repo: Path) -> tuple[Policy, Path]:
    """The policy of the environment repo ``repo`` and where it is."""
    path = repo / POLICY_FILE
    if not path.exists():
        raise SecretsError(
            f"{path} does not exist: no environment has readers of its secrets",
            hint=f"create it, for instance:\n{EXAMPLE}",
        )
    data, locate = load_yaml(path)
    try:
        return Policy.model_validate(data), path
    except ValidationError as e:
        first = e.errors()[0]
        where = tuple(str(p) for p in first["loc"])
        raise SpecError(
            f"{'.'.join(where)}: {first['msg']}", location=locate.locate(where)
        ) from None
