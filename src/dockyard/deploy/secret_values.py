"""The secrets a deploy delivers, read from the environment's secrets files.

Planning needs only what the files hold, names and versions, read without
decrypting (:func:`catalog`): a plan and the release history show versions,
never values. Right before a release changes anything, :func:`read_values`
decrypts the versions its desired state names into memory. A version no longer
in the file as it is (a rollback to a release whose secret was changed since) is
looked for in the file's git history.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import suppress
from pathlib import Path

from dockyard.engines.model import NO_SECRETS, SecretKey, SecretValues
from dockyard.errors import SecretsError
from dockyard.plan.model import ActualState, DesiredState, SecretDef
from dockyard.plan.secrets import SHARED, SecretCatalog
from dockyard.secrets import changes, files, sops, trust
from dockyard.secrets.age import AgeIdentities
from dockyard.secrets.keys import Identity
from dockyard.secrets.kms import KmsAccess
from dockyard.secrets.policy import POLICY_FILE, load_policy
from dockyard.spec.loaded import LoadedEnvironment

HISTORY_DEPTH = 200
"""Revisions of a secrets file looked through for a version it no longer holds."""


def catalog(env: LoadedEnvironment, only: Collection[str] | None = None) -> SecretCatalog:
    """What the secrets files that ``env``'s specs (of ``only``) use hold: names and
    versions. Only those files are read; none when no container gets a secret."""
    scopes: set[str] = set()
    for svc in env.services:
        if only is not None and svc.name not in only:
            continue
        spec = svc.spec
        if any(c.secrets for c in spec.containers.values()) or any(
            t.secrets for t in spec.tasks.values()
        ):
            scopes |= {svc.name, SHARED}
    for name, acc in env.spec.accessories.items():
        if acc.secrets and (only is None or name in only):
            scopes.add(SHARED)
    paths = {scope: _path(env, scope) for scope in [SHARED, *(s.name for s in env.services)]}
    versions = {
        scope: files.listing(paths[scope]).names for scope in scopes if paths[scope].exists()
    }
    return SecretCatalog(files=paths, versions=versions)


def used(desired: DesiredState) -> list[SecretDef]:
    """Every secret the tasks and one-off tasks of ``desired`` get."""
    return [
        secret
        for service in desired.services
        for container in [*service.task.containers, *(t.container for t in service.tasks)]
        for secret in container.secrets
    ]


def running(actual: ActualState) -> list[SecretDef]:
    """The secrets of what runs (a failed rollout starts it again)."""
    return [
        secret
        for task in actual.tasks
        if task.definition is not None
        for container in task.definition.containers
        for secret in container.secrets
    ]


def read_values(
    env: LoadedEnvironment,
    required: Iterable[SecretDef],
    optional: Iterable[SecretDef] = (),
    identities: Sequence[Identity] | None = None,
) -> SecretValues:
    """The values of the ``required`` secrets (an error names the file and secret of
    one that cannot be read) and of those ``optional`` ones that can be."""
    need = _keys(required)
    want = _keys(optional) - need
    if not need and not want:
        return NO_SECRETS
    check_trusted(env, {k[0] for k in need})
    keys = identities if identities is not None else _identities()
    found: dict[SecretKey, bytes] = {}
    for scope, wanted in _by_scope(need):
        found.update(_read_scope(_path(env, scope), wanted, keys, required=True))
    for scope, wanted in _by_scope(want):
        with suppress(SecretsError):  # what ran before may not be readable any more
            found.update(_read_scope(_path(env, scope), wanted, keys, required=False))
    return SecretValues(found)


def _by_scope(keys: set[SecretKey]) -> list[tuple[str, set[SecretKey]]]:
    return [(scope, {k for k in keys if k[0] == scope}) for scope in sorted({k[0] for k in keys})]


def check_trusted(env: LoadedEnvironment, scopes: Iterable[str]) -> None:
    """In a protected environment (the environment's ``protected``, or its policy's),
    refuse a secrets file of ``scopes`` that was not last written and signed by one of
    its writers, or whose recipients are not exactly its readers."""
    paths = [_path(env, scope) for scope in sorted(set(scopes))]
    if not paths:
        return
    if not (env.repo / POLICY_FILE).exists() and not env.spec.protected:
        return  # nothing says the environment is protected
    policy, where = load_policy(env.repo)
    if not (env.spec.protected or policy.access(env.name, where).protected):
        return
    for path in paths:
        if not path.exists():
            continue  # reading its values says so
        verdict = trust.verify(path, env.name, policy, where)
        if verdict.ok:
            continue
        scope = next((s.name for s in env.services if _path(env, s.name) == path), None)
        sign = f"dockyard secrets sign {env.name}{f' {scope}' if scope else ''}"
        raise SecretsError(
            f"{env.name} is protected, and {path} does not verify: {'; '.join(verdict.problems)}",
            hint=f"the policy ({where}) wants every file signed by a writer of {env.name} "
            f"({', '.join(policy.access(env.name, where).write) or 'nobody'}) and encrypted "
            f"for its readers; a writer runs `{sign}` (after `dockyard secrets rekey` when "
            "the recipients differ)",
            code="DY704",
        )


def _read_scope(
    path: Path, wanted: set[SecretKey], identities: Sequence[Identity], *, required: bool
) -> dict[SecretKey, bytes]:
    """The values of ``wanted`` in ``path`` as it is, or else in its git history; all
    of them when ``required``, else those found."""
    found: dict[SecretKey, bytes] = {}
    left = set(wanted)
    for file in _revisions(path, required):
        here = {k for k in left if k[1] in file.tree and file.version(k[1]) == k[2]}
        if here:
            values = sops.decrypt(file, identities)
            for key in here:
                found[key] = _bytes(values[key[1]], path, key[1])
            left -= here
        if not left:
            return found
    missing = sorted(left) if required else []
    if missing:
        _, name, version = missing[0]
        raise SecretsError(
            f"{path}: secret {name} at version {version} is neither in the file nor in "
            "its git history",
            hint="set it again with `dockyard secrets set`, then release",
        )
    return found


def _revisions(path: Path, required: bool) -> Iterable[sops.SopsFile]:
    """The file as it is, then as each commit that changed it left it (newest first)."""
    if path.exists():
        yield sops.read(path)
    elif required:
        raise SecretsError(
            f"{path} does not exist", hint="set a secret first: dockyard secrets set"
        )
    for text in changes.history(path, HISTORY_DEPTH):
        yield sops.parse(text, path)


def _bytes(value: object, path: Path, name: str) -> bytes:
    """A secret's value as the bytes of its file."""
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (int, float)):
        return str(value).encode()
    raise SecretsError(
        f"{path}: {name} is not a single value: a secret becomes one file",
        hint="give each value a name of its own",
    )


def _keys(secrets: Iterable[SecretDef]) -> set[SecretKey]:
    return {(s.scope, s.name, s.version) for s in secrets}


def _path(env: LoadedEnvironment, scope: str) -> Path:
    return files.secrets_path(env, scope or None)


def _identities() -> list[Identity]:
    return [AgeIdentities.from_environment(), KmsAccess()]
