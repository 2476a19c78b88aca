"""Who last wrote a secrets file: an Ed25519 signature beside it.

age keys cannot sign (X25519 only agrees on keys), and a KMS key's signature
would tie every writer to AWS. So each writer also has an Ed25519 signing
key: small (32-byte keys, 64-byte signatures), fast, deterministic, in
``cryptography`` already. Its public half is the principal's ``signing:``
in ``policies.yaml`` (``ed25519:<base64>``); the private half is a PEM file,
``DOCKYARD_SIGNING_KEY_FILE`` or ``$XDG_CONFIG_HOME/dockyard/signing.key``.

``secrets/<env>.enc.yaml.sig`` holds the signer's name, key, the SHA-256 of
the file's bytes and the signature over ``dockyard-secrets-v1``, the
environment, the file's name and that digest: a signed file moved to another
environment, or changed by a single byte (``sops edit`` included), no
longer verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dockyard.errors import SecretsError

PREFIX = "ed25519:"
KEY_FILE_VARIABLE = "DOCKYARD_SIGNING_KEY_FILE"
CONTEXT = b"dockyard-secrets-v1"


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PREFIX + base64.b64encode(raw).decode()


def parse_public(text: str) -> Ed25519PublicKey:
    try:
        if not text.startswith(PREFIX):
            raise ValueError
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text[len(PREFIX) :]))
    except (ValueError, binascii.Error):
        raise SecretsError(
            f"{text[:60]!r} is not a signing key",
            hint="`dockyard secrets keygen` prints one: ed25519:<base64>",
        ) from None


def default_key_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(KEY_FILE_VARIABLE):
        return Path(env[KEY_FILE_VARIABLE])
    config = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "dockyard" / "signing.key"


def make_key(path: Path) -> Ed25519PublicKey:
    """A new signing key in ``path`` (0600; an existing one is never replaced)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretsError(
            f"{path} exists already: its key is kept", hint="remove it first to make another"
        ) from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key.public_key()


def load_key(path: Path) -> Ed25519PrivateKey | None:
    """The signing key in ``path``; None when there is none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SecretsError(f"cannot read the signing key {path}: {e.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SecretsError(f"{path} is not an unencrypted Ed25519 PEM key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SecretsError(f"{path} is not an Ed25519 key")
    return key


def _message(environment: str, path: Path, digest: str) -> bytes:
    return b"\0".join([CONTEXT, environment.encode(), path.name.encode(), digest.encode()])


def sign(path: Path, environment: str, signer: str, key: Ed25519PrivateKey) -> Path:
    """Sign ``path`` as it is now, as ``signer``; returns the signature file."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    signature = key.sign(_message(environment, path, digest))
    record = {
        "signer": signer,
        "key": public_text(key.public_key()),
        "sha256": digest,
        "signature": base64.b64encode(signature).decode(),
    }
    out = signature_path(path)
    temporary = out.with_name(f".{out.name}.tmp")
    temporary.write_text(yaml.safe_dump(record, sort_keys=False))
    os.replace(temporary, out)
    return out


@dataclass(frozen=True)
class Signed:
    """Who signed a file; ``problem`` says why it does not verify (None: it does)."""

    signer: str | None
    key: str | None
    problem: str | None


def check(path: Path, environment: str) -> Signed:
    """Whether ``path``'s signature holds for its bytes now (not yet whether the
    signer may write: that is the policy's)."""
    sig = signature_path(path)
    if not sig.exists():
        return Signed(None, None, "unsigned: last written without a signing key (or by sops)")
    try:
        record = yaml.safe_load(sig.read_text())
        signer, key_text = str(record["signer"]), str(record["key"])
        digest, signature = str(record["sha256"]), base64.b64decode(str(record["signature"]))
    except (yaml.YAMLError, KeyError, TypeError, ValueError, binascii.Error, OSError):
        return Signed(None, None, f"{sig.name} cannot be read")
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        return Signed(signer, key_text, f"changed since {signer} signed it (edited with sops?)")
    try:
        parse_public(key_text).verify(signature, _message(environment, path, digest))
    except (SecretsError, InvalidSignature):
        return Signed(signer, key_text, f"the signature of {signer} does not verify")
    return Signed(signer, key_text, None)
