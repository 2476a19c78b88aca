"""An environment's secrets files, and the changes ``dockyard secrets`` makes to them.

A service's secrets for an environment are in ``secrets/<env>.enc.yaml`` of the
service's repo; secrets every service of the environment may use are in
``secrets/<env>.enc.yaml`` of the environment repo. Each file is encrypted
for the environment's readers (:mod:`dockyard.secrets.policy`). Every write
replaces the file at once (a temporary file renamed over it), and writing a
file again keeps the ciphertext of what did not change. Plaintext stays in
memory.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import SecretsError
from dockyard.secrets import sops
from dockyard.secrets.keys import Identity, Recipient
from dockyard.spec.loaded import LoadedEnvironment

SECRETS_DIR = "secrets"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
"""A secret's name: it becomes a file name under /run/secrets."""


def secrets_path(env: LoadedEnvironment, service: str | None) -> Path:
    """The secrets file of ``service`` in ``env``, or the environment's shared one."""
    if service is None:
        return env.repo / SECRETS_DIR / f"{env.name}.enc.yaml"
    found = next((s for s in env.services if s.name == service), None)
    if found is None:
        known = ", ".join(s.name for s in env.services)
        raise SecretsError(
            f"environment {env.name} has no service {service!r}", hint=f"it has: {known}"
        )
    return found.source / SECRETS_DIR / f"{env.name}.enc.yaml"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise SecretsError(
            f"{name[:60]!r} is not a secret name",
            hint="letters, digits, _ . - (starting with a letter or _), at most 128",
        )
    return name


@dataclass(frozen=True)
class Listing:
    path: Path
    names: dict[str, str]  # name → version (a hash of its ciphertext)
    recipients: list[tuple[str, str]]
    lastmodified: str


def listing(path: Path) -> Listing:
    """What a file holds, without decrypting it."""
    file = sops.read(path)
    versions = {n: file.version(n) for n in file.names()}
    return Listing(path, versions, file.recipients(), file.lastmodified)


def values(path: Path, identities: Sequence[Identity]) -> dict[str, object]:
    """Every secret of ``path`` in the clear."""
    return dict(sops.decrypt(_existing(path), identities))


def get(path: Path, name: str, identities: Sequence[Identity]) -> sops.Scalar:
    values = sops.decrypt(_existing(path), identities)
    if name not in values:
        raise SecretsError(f"{path} has no secret {name!r}", hint=_has(values))
    value = values[name]
    if not isinstance(value, sops.Scalar):
        raise SecretsError(f"{path}: {name} is not a single value")
    return value


@dataclass(frozen=True)
class Written:
    path: Path
    changed: list[str]  # the names whose value changed
    new_key: bool  # a new data key (readers were removed, or asked for)
    removed: list[str]  # master keys that could read the file before and cannot now


def update(
    path: Path,
    changes: Mapping[str, sops.Scalar | None],
    readers: Sequence[Recipient],
    identities: Sequence[Identity],
    *,
    rotate: bool = False,
) -> Written:
    """Set (or, for None, remove) the ``changes`` in ``path`` (created when missing)
    and encrypt it for ``readers``. A reader removed since the file was written
    makes a new data key: they may have kept the old one."""
    for name in changes:
        check_name(name)
    previous, old, before = None, {}, set()
    if path.exists():
        file = sops.read(path)
        previous = sops.previous_of(file, sops.data_key(file, identities))
        old = dict(previous.values)
        before = {rid for _, rid in file.recipients()}
    values = dict(old)
    for name, value in changes.items():
        if value is None:
            if name not in values:
                raise SecretsError(f"{path} has no secret {name!r}", hint=_has(values))
            del values[name]
        else:
            values[name] = value
    removed = sorted(before - {r.id for r in readers})
    new_key = rotate or bool(removed)
    text = sops.encrypt(values, readers, previous=previous, new_key=new_key)
    _replace(path, text)
    changed = sorted(n for n in {*old, *values} if old.get(n) != values.get(n))
    return Written(path, changed, new_key, removed)


def parse_env_file(text: str, source: str) -> dict[str, str]:
    """``NAME=value`` lines (``export``, quotes and ``#`` comments as shells write them)."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not NAME.match(name):
            raise SecretsError(f"{source}, line {number}: not a NAME=value line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name] = value
    return found


def _existing(path: Path) -> sops.SopsFile:
    if not path.exists():
        raise SecretsError(
            f"{path} does not exist", hint="set a secret first: `dockyard secrets set ...`"
        )
    return sops.read(path)


def _has(values: Mapping[str, object]) -> str:
    return f"it has: {', '.join(values) or 'nothing'}"


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` at once: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
