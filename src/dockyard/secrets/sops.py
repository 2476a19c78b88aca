"""The sops file format (YAML), read and written as the ``sops`` tool does.

A file holds a tree of values and a ``sops:`` block. Every value is encrypted
on its own with AES-256-GCM under the file's data key (32 random bytes), a
32-byte random IV, and its key path as additional data (``a:b:`` for ``b``
under ``a``; a list's items share the list's path):
``ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:str|int|float|bool]``.
An empty string stays empty. Keys stay in the clear, so diffs show which
values changed and never what they are.

The ``sops:`` block carries the data key wrapped for each master key (a list
per kind: ``age``, ``kms``), ``lastmodified`` (UTC, to the second), the
``mac`` and the ``version``, and which values are left unencrypted
(``unencrypted_suffix`` by default; ``encrypted_suffix``, ``encrypted_regex``
or ``unencrypted_regex`` instead). The MAC is SHA-512 over every value's
plaintext in document order, as upper-case hex, encrypted like a value with
``lastmodified`` as additional data: a changed value, a renamed or moved key,
or a changed date fails it.

Not supported (refused by name): Shamir key groups, ``mac_only_encrypted``,
and encrypted comments (PyYAML drops comments; sops leaves them out of the MAC,
so a file with them still decrypts).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dockyard.errors import SecretsError
from dockyard.secrets.keys import Identity, Recipient, entry_id
from dockyard.spec.yamlsource import load_yaml, parse_yaml

VERSION = "3.11.0"
"""The sops version whose format Dockyard writes."""
IV_BYTES = 32
DATA_KEY_BYTES = 32
UNENCRYPTED_SUFFIX = "_unencrypted"
KEY_KINDS = ("age", "kms")
"""The master key kinds Dockyard reads and writes, in the order it tries them."""
UNSUPPORTED = {
    "key_groups": "Shamir key groups",
    "shamir_threshold": "Shamir key groups",
    "mac_only_encrypted": "mac_only_encrypted",
}
_ENC = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]$")

Scalar = str | int | float | bool
KeyPath = tuple[str, ...]


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class SopsFile:
    """An encrypted file as read: its values still encrypted, and its ``sops:`` block."""

    path: Path
    tree: Mapping[str, Any]
    meta: Mapping[str, Any]

    @property
    def lastmodified(self) -> str:
        return str(self.meta.get("lastmodified", ""))

    def recipients(self) -> list[tuple[str, str]]:
        """The master keys the data key is wrapped for: (kind, id)."""
        return [
            (kind, entry_id(kind, entry))
            for kind in KEY_KINDS
            for entry in self.meta.get(kind) or []
            if isinstance(entry, Mapping)
        ]

    def names(self) -> list[str]:
        """The secrets in the file: its top-level keys."""
        return list(self.tree)

    def version(self, name: str) -> str:
        """A short hash of the ciphertext of secret ``name``: it changes when the value
        is written again, and says nothing about the value."""
        text = yaml.safe_dump(self.tree[name], sort_keys=True)
        return hashlib.sha256(f"{name}\0{text}".encode()).hexdigest()[:12]


def read(path: Path) -> SopsFile:
    """Read ``path`` (bounded like every spec file); raise SecretsError naming the
    file when it is not a sops file."""
    data, _ = load_yaml(path)
    return _sops_file(path, data)


def parse(text: str, path: Path) -> SopsFile:
    """Like :func:`read`, for text already read; ``path`` names it in errors."""
    data, _ = parse_yaml(text, path)
    return _sops_file(path, data)


def _sops_file(path: Path, data: object) -> SopsFile:
    if not isinstance(data, dict):
        raise SecretsError(f"{path}: a secrets file is a YAML mapping of names to values")
    meta = data.get("sops")
    if not isinstance(meta, dict):
        raise SecretsError(
            f"{path} has no sops metadata: it is not encrypted",
            hint=f"encrypt it: `dockyard secrets import` or `sops encrypt --in-place {path}`",
        )
    for key, what in UNSUPPORTED.items():
        if meta.get(key):
            raise SecretsError(f"{path} uses {what}, which Dockyard does not read")
    for key in ("lastmodified", "mac"):
        if not isinstance(meta.get(key), str):
            raise SecretsError(f"{path}: the sops metadata has no {key}")
    tree = {k: v for k, v in data.items() if k != "sops"}
    return SopsFile(path, tree, meta)


# --------------------------------------------------------------- decryption


def data_key(file: SopsFile, identities: Sequence[Identity]) -> bytes:
    """The file's data key, unwrapped by the first identity that can. A key service
    that fails (KMS unreachable) is told of when no other identity could."""
    failed: list[SecretsError] = []
    for kind in KEY_KINDS:
        for entry in file.meta.get(kind) or []:
            if not isinstance(entry, Mapping):
                continue
            for identity in identities:
                if identity.kind != kind:
                    continue
                try:
                    key = identity.unwrap(entry)
                except SecretsError as e:
                    failed.append(e)
                    continue
                if key is not None and len(key) == DATA_KEY_BYTES:
                    return key
    if failed:
        raise SecretsError(
            f"{file.path}: {failed[0].message}", hint=failed[0].hint, code=failed[0].code
        )
    wrapped = ", ".join(f"{kind} {rid}" for kind, rid in file.recipients()) or "nobody"
    raise SecretsError(
        f"{file.path}: none of your keys can decrypt it; it is encrypted for {wrapped}",
        hint="point SOPS_AGE_KEY_FILE at an age identity of one of them, or ask someone "
        "who can read it to add your recipient (`dockyard secrets rekey`)",
        code="DY701",
    )


def decrypt(file: SopsFile, identities: Sequence[Identity]) -> dict[str, Any]:
    """The file's values in the clear, once its MAC holds. Raises SecretsError (naming
    the file, and the key where one fails) when it has been tampered with."""
    key = data_key(file, identities)
    return decrypt_with(file, key)


def decrypt_with(file: SopsFile, key: bytes) -> dict[str, Any]:
    """Like :func:`decrypt`, with the data key already unwrapped."""
    rules = Rules.of(file.meta)
    digest = hashlib.sha512()

    def leaf(value: object, path: KeyPath, at: KeyPath) -> object:
        if isinstance(value, str) and value and rules.encrypts(path):
            plain = _decrypt_value(value, key, _aad(path), file.path, path)
        else:
            plain = value
        digest.update(_bytes(plain, file.path, path))
        return plain

    values = _walk(file.tree, (), leaf)
    mac = _decrypt_value(file.meta["mac"], key, file.lastmodified, file.path, ("sops", "mac"))
    if not isinstance(mac, str) or mac.upper() != digest.hexdigest().upper():
        raise SecretsError(
            f"{file.path}: the MAC does not match its values: the file was changed "
            "outside sops and Dockyard (a value, a key name, or lastmodified)",
            hint="restore it from git (`git checkout -- FILE`); set the secret again if "
            "the change was meant",
            code="DY702",
        )
    assert isinstance(values, dict)
    return values


def _decrypt_value(text: object, key: bytes, aad: str, file: Path, path: KeyPath) -> object:
    where = ".".join(path)
    match = _ENC.match(text) if isinstance(text, str) else None
    if match is None:
        raise SecretsError(f"{file}: {where} is not a sops-encrypted value", code="DY702")
    try:
        data, iv, tag = (base64.b64decode(match.group(n), validate=True) for n in (1, 2, 3))
        plain = AESGCM(key).decrypt(iv, data + tag, aad.encode())
    except (binascii.Error, ValueError, InvalidTag):
        raise SecretsError(
            f"{file}: {where} does not decrypt: its ciphertext or its key name was changed",
            hint="restore the file from git; set the secret again if the change was meant",
            code="DY702",
        ) from None
    return _typed_value(plain, match.group(4), file, where)


def _typed_value(plain: bytes, kind: str, file: Path, where: str) -> Scalar:
    try:
        text = plain.decode()
        if kind in ("str", "bytes", "comment"):
            return text
        if kind in ("int", "int64"):
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            return {"true": True, "1": True, "t": True, "false": False, "0": False, "f": False}[
                text.lower()
            ]
    except (UnicodeDecodeError, ValueError, KeyError):
        pass
    raise SecretsError(f"{file}: {where} holds a value of type {kind!r} that cannot be read")


# --------------------------------------------------------------- encryption


@dataclass(frozen=True)
class Rules:
    """Which values a file encrypts (sops's suffix and regex settings; one at most)."""

    unencrypted_suffix: str | None = UNENCRYPTED_SUFFIX
    encrypted_suffix: str | None = None
    encrypted_regex: str | None = None
    unencrypted_regex: str | None = None

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> Rules:
        def setting(name: str) -> str | None:
            value = meta.get(name)
            return str(value) if value else None

        return cls(
            unencrypted_suffix=setting("unencrypted_suffix"),
            encrypted_suffix=setting("encrypted_suffix"),
            encrypted_regex=setting("encrypted_regex"),
            unencrypted_regex=setting("unencrypted_regex"),
        )

    def encrypts(self, path: KeyPath) -> bool:
        if self.unencrypted_suffix and any(p.endswith(self.unencrypted_suffix) for p in path):
            return False
        if self.encrypted_suffix:
            return any(p.endswith(self.encrypted_suffix) for p in path)
        if self.encrypted_regex:
            return any(re.search(self.encrypted_regex, p) for p in path)
        if self.unencrypted_regex:
            return not any(re.search(self.unencrypted_regex, p) for p in path)
        return True

    def meta(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("unencrypted_suffix", self.unencrypted_suffix),
                ("encrypted_suffix", self.encrypted_suffix),
                ("encrypted_regex", self.encrypted_regex),
                ("unencrypted_regex", self.unencrypted_regex),
            )
            if v
        }


@dataclass(frozen=True)
class Previous:
    """What a file held, so that writing it again keeps the ciphertext of every
    value that did not change (a diff then shows only what did)."""

    key: bytes
    values: Mapping[str, Any]
    tree: Mapping[str, Any]
    rules: Rules = field(default_factory=Rules)
    wrapped: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    """The data key as each master key (kind, id) has it wrapped already."""


def encrypt(
    values: Mapping[str, Any],
    recipients: Sequence[Recipient],
    *,
    rules: Rules | None = None,
    previous: Previous | None = None,
    new_key: bool = False,
    now: datetime | None = None,
) -> str:
    """The sops file (YAML text) holding ``values``, its data key wrapped for each of
    ``recipients``. With ``previous`` (and not ``new_key``), the data key and the
    ciphertext of unchanged values are kept."""
    if not recipients:
        raise SecretsError("a secrets file needs at least one recipient to encrypt for")
    reuse = previous is not None and not new_key
    rules = rules or (previous.rules if previous is not None else Rules())
    key = previous.key if reuse and previous is not None else os.urandom(DATA_KEY_BYTES)
    kept = _ciphertexts(previous) if reuse and previous is not None else {}
    digest = hashlib.sha512()

    def leaf(value: object, path: KeyPath, at: KeyPath) -> object:
        if not isinstance(value, Scalar):
            raise SecretsError(f"{'.'.join(path)}: a secret is a string, number or boolean")
        digest.update(_bytes(value, Path("-"), path))
        if not rules.encrypts(path) or value == "":
            return value
        old = kept.get(at)
        if old is not None and old[0] == value and type(old[0]) is type(value):
            return old[1]
        return _encrypt_value(value, key, _aad(path))

    tree = _walk(values, (), leaf)
    assert isinstance(tree, dict)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta: dict[str, Any] = {}
    wrapped = previous.wrapped if reuse and previous is not None else {}
    for kind in KEY_KINDS:
        entries = [
            dict(wrapped.get((kind, r.id)) or r.wrap(key)) for r in recipients if r.kind == kind
        ]
        if entries:
            meta[kind] = entries
    meta["lastmodified"] = stamp
    meta["mac"] = _encrypt_value(digest.hexdigest().upper(), key, stamp)
    meta.update(rules.meta())
    meta["version"] = VERSION
    return yaml.dump({**tree, "sops": meta}, Dumper=_Dumper, sort_keys=False, width=1 << 16)


def previous_of(file: SopsFile, key: bytes) -> Previous:
    """What :func:`encrypt` needs to write ``file`` again with few changes."""
    wrapped = {
        (kind, entry_id(kind, entry)): entry
        for kind in KEY_KINDS
        for entry in file.meta.get(kind) or []
        if isinstance(entry, Mapping)
    }
    return Previous(key, decrypt_with(file, key), file.tree, Rules.of(file.meta), wrapped)


def _ciphertexts(previous: Previous) -> dict[KeyPath, tuple[object, str]]:
    """Each encrypted value of ``previous`` by its position: (plaintext, ciphertext)."""
    plain = dict(_leaves(previous.values, ()))
    return {
        path: (plain[path], text)
        for path, text in _leaves(previous.tree, ())
        if isinstance(text, str) and text.startswith("ENC[") and path in plain
    }


def _encrypt_value(value: Scalar, key: bytes, aad: str) -> str:
    kind, plain = _encoded(value)
    iv = os.urandom(IV_BYTES)
    sealed = AESGCM(key).encrypt(iv, plain, aad.encode())
    data, tag = sealed[:-16], sealed[-16:]
    b64 = base64.b64encode
    return (
        f"ENC[AES256_GCM,data:{b64(data).decode()},iv:{b64(iv).decode()},"
        f"tag:{b64(tag).decode()},type:{kind}]"
    )


def _encoded(value: Scalar) -> tuple[str, bytes]:
    if isinstance(value, bool):
        return "bool", b"True" if value else b"False"
    if isinstance(value, int):
        return "int", str(value).encode()
    if isinstance(value, float):
        return "float", _float_text(value).encode()
    return "str", value.encode()


# ------------------------------------------------------------------- common


def _aad(path: KeyPath) -> str:
    return ":".join(path) + ":"


def _float_text(value: float) -> str:
    """A float as Go's ``FormatFloat(v, 'f', -1, 64)`` writes it (no exponent)."""
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


def _bytes(value: object, file: Path, path: KeyPath) -> bytes:
    """A value as the MAC hashes it."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return _float_text(value).encode()
    if isinstance(value, str):
        return value.encode()
    raise SecretsError(f"{file}: {'.'.join(path) or 'the file'} holds a value sops cannot hold")


def _walk(value: object, path: KeyPath, leaf: Any, at: KeyPath = ()) -> object:
    """``value`` with ``leaf(value, path, at)`` in place of every leaf: ``path`` is
    its key path (a list's items share it), ``at`` its position (as ``_leaves``)."""
    if isinstance(value, Mapping):
        return {str(k): _walk(v, (*path, str(k)), leaf, (*at, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, path, leaf, (*at, f"[{i}]")) for i, v in enumerate(value)]
    return leaf(value, path, at)


def _leaves(value: object, path: tuple[str, ...]) -> Iterator[tuple[KeyPath, object]]:
    """Every leaf by its position (list items by index, unlike the additional data)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, f"[{i}]"))
    else:
        yield path, value


class _Dumper(yaml.SafeDumper):
    """YAML as sops writes it: block style, an armored key as a literal block."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

__all__ = [
    "Previous",
    "Rules",
    "SopsFile",
    "data_key",
    "decrypt",
    "decrypt_with",
    "encrypt",
    "parse",
    "previous_of",
    "read",
]
