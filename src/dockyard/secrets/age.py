"""age master keys (X25519, the age format, through pyrage).

A recipient (``age1...``) wraps a data key as an armored age file, as sops
does. Identities (``AGE-SECRET-KEY-1...``) come from, in this order: the
``SOPS_AGE_KEY`` environment variable (the key file's text), the file
``SOPS_AGE_KEY_FILE`` names, or sops's default key file
(``$XDG_CONFIG_HOME/sops/age/keys.txt``). They are never read from a command
line, where other users could see them. The names are sops's, so one setup
serves both tools.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyrage

from dockyard.errors import SecretsError

KIND = "age"
KEY_VARIABLE = "SOPS_AGE_KEY"
KEY_FILE_VARIABLE = "SOPS_AGE_KEY_FILE"
SECRET_PREFIX = "AGE-SECRET-KEY-"


@dataclass(frozen=True)
class AgeRecipient:
    """One age recipient a file is encrypted for."""

    recipient: str
    kind: str = KIND

    def __post_init__(self) -> None:
        try:
            pyrage.x25519.Recipient.from_str(self.recipient)
        except pyrage.RecipientError:
            raise SecretsError(
                f"{self.recipient!r} is not an age recipient",
                hint="an age recipient starts with age1; `age-keygen -y KEYFILE` prints it",
            ) from None

    @property
    def id(self) -> str:
        return self.recipient

    def wrap(self, data_key: bytes) -> dict[str, str]:
        key = pyrage.x25519.Recipient.from_str(self.recipient)
        armored = pyrage.encrypt(data_key, [key], armored=True)
        return {"recipient": self.recipient, "enc": armored.decode("ascii")}


class AgeIdentities:
    """The age identities this process may decrypt with."""

    kind = KIND

    def __init__(self, identities: Sequence[pyrage.x25519.Identity], source: str) -> None:
        self._identities = list(identities)
        self.source = source  # where they were read from, for messages
        self.recipients = frozenset(str(i.to_public()) for i in self._identities)

    @classmethod
    def parse(cls, text: str, source: str) -> AgeIdentities:
        """The identities in a key file's text (``#`` lines are comments)."""
        found = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                found.append(pyrage.x25519.Identity.from_str(line))
            except pyrage.IdentityError:
                # The line itself is never shown: it may be a key with a typo.
                raise SecretsError(
                    f"{source}, line {number}: not an age identity",
                    hint=f"an age identity is one line starting with {SECRET_PREFIX}; "
                    "`age-keygen` makes one",
                ) from None
        return cls(found, source)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AgeIdentities:
        """The identities the environment points at (see the module's docs); none
        when it points at nothing."""
        env = os.environ if environ is None else environ
        if env.get(KEY_VARIABLE):
            return cls.parse(env[KEY_VARIABLE], f"${KEY_VARIABLE}")
        if env.get(KEY_FILE_VARIABLE):
            return cls.read(Path(env[KEY_FILE_VARIABLE]), required=True)
        config = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        return cls.read(config / "sops" / "age" / "keys.txt", required=False)

    @classmethod
    def read(cls, path: Path, *, required: bool) -> AgeIdentities:
        try:
            text = path.read_text()
        except FileNotFoundError:
            if required:
                raise SecretsError(
                    f"the age key file {path} does not exist",
                    hint=f"{KEY_FILE_VARIABLE} names it; `age-keygen -o {path}` makes one",
                ) from None
            return cls([], str(path))
        except (OSError, UnicodeDecodeError) as e:
            raise SecretsError(f"cannot read the age key file {path}: {e}") from None
        return cls.parse(text, str(path))

    def unwrap(self, entry: Mapping[str, str]) -> bytes | None:
        if str(entry.get("recipient")) not in self.recipients:
            return None
        try:
            armored = str(entry.get("enc", "")).encode("ascii")
            return bytes(pyrage.decrypt(armored, self._identities))
        except (pyrage.DecryptError, UnicodeEncodeError):
            return None
