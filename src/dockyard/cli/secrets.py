"""``dockyard secrets``: an environment's encrypted secrets files."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from dockyard.cli import render
from dockyard.cli.context import load
from dockyard.errors import DockyardError, SecretsError
from dockyard.secrets import changes, files, signing, sops, trust
from dockyard.secrets.age import AgeIdentities
from dockyard.secrets.kms import KmsAccess
from dockyard.secrets.policy import Policy, load_policy
from dockyard.spec.loaded import LoadedEnvironment

MAX_VALUE = 1 << 20
"""Bytes a secret's value may have (a file under /run/secrets, not a disk image)."""


def cmd_secrets(args: argparse.Namespace, out: Console, err: Console) -> int:
    action = args.secrets_command
    if action == "keygen":
        path = signing.default_key_file()
        public = signing.make_key(path)
        err.print(f"Wrote your signing key to {escape(str(path))} (keep it; never commit it).")
        out.print(f"signing: {signing.public_text(public)}", markup=False, highlight=False)
        return 0
    env = load(args)
    if action in ("set", "get", "unset"):
        service, name = _named(args.names)
        path = files.secrets_path(env, service)
        files.check_name(name)
        if action == "get":
            value = files.get(path, name, [AgeIdentities.from_environment(), KmsAccess()])
            sys.stdout.write(f"{value}\n")
            return 0
        update = {name: _read_value(name) if action == "set" else None}
        return _write(env, path, update, out, err)
    path = files.secrets_path(env, args.names)
    if action == "list":
        return _list(path, args.json, out)
    if action == "import":
        source: Path = args.env_file
        try:
            text = source.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise SecretsError(f"cannot read {source}: {e}") from None
        return _write(env, path, dict(files.parse_env_file(text, str(source))), out, err)
    if action == "diff":
        return _diff(path, args.since, args.until, out)
    if action == "verify":
        paths = _every_file(env) if args.all else [path]
        return _verify(env, paths, out, err)
    if not path.exists():
        raise SecretsError(f"{path} does not exist: there is nothing to {action}")
    if action == "edit":
        return _write(env, path, _edited(path), out, err)
    if action == "sign":
        policy, where = load_policy(env.repo)
        policy.writer(env.name, AgeIdentities.from_environment().recipients, where)
        files.values(path, [AgeIdentities.from_environment(), KmsAccess()])  # the MAC holds
        _sign(env, path, policy, where, out, err, required=True)
        return 0
    return _write(env, path, {}, out, err, rotate=action == "rotate")


def _edited(path: Path) -> dict[str, sops.Scalar | None]:
    """What the user changed in ``$EDITOR``: new values, and None for names removed."""
    values = files.values(path, [AgeIdentities.from_environment(), KmsAccess()])
    edited = changes.edit_values(values, changes.editor_command(), path.stem)
    delta: dict[str, sops.Scalar | None] = {n: None for n in values if n not in edited}
    for name, new in edited.items():
        if not isinstance(new, sops.Scalar):
            raise SecretsError(f"{name}: a secret is a string, number or boolean")
        if values.get(name) != new:
            delta[name] = new
    return delta


def _diff(path: Path, since: str, until: str | None, out: Console) -> int:
    found = changes.compare(changes.versions_at(path, since), changes.versions_at(path, until))
    shown = escape(render.show_path(path))
    lines = [
        *(f"  + {n}" for n in found.added),
        *(f"  - {n}" for n in found.removed),
        *(f"  ~ {n}" for n in found.changed),
    ]
    if not lines:
        out.print(
            f"{shown}: no secret changed between {escape(since)} and {escape(until or 'now')}."
        )
        return 0
    out.print(f"{shown}, {escape(since)} → {escape(until or 'now')}:")
    for line in lines:
        out.print(escape(line))
    return 0


def _named(words: list[str]) -> tuple[str | None, str]:
    if len(words) == 1:
        return None, words[0]
    if len(words) == 2:
        return words[0], words[1]
    raise DockyardError("name one secret: [SERVICE] NAME", code="DY002")


def _read_value(name: str) -> str:
    if sys.stdin.isatty():
        value = getpass.getpass(f"value of {name} (not shown): ")
    else:
        value = sys.stdin.read(MAX_VALUE + 2)
        if value.endswith("\n"):
            value = value[:-2] if value.endswith("\r\n") else value[:-1]
    if len(value.encode()) > MAX_VALUE:
        raise SecretsError(f"the value of {name} is over {MAX_VALUE} bytes")
    if "\0" in value:
        raise SecretsError(f"the value of {name} holds a NUL byte")
    if value == "":
        raise SecretsError(f"the value of {name} is empty", hint="`secrets unset` removes one")
    return value


def _write(
    env: LoadedEnvironment,
    path: Path,
    changes: Mapping[str, sops.Scalar | None],
    out: Console,
    err: Console,
    *,
    rotate: bool = False,
) -> int:
    policy, where = load_policy(env.repo)
    readers = policy.readers(env.name, where)
    identities = AgeIdentities.from_environment()
    policy.writer(env.name, identities.recipients, where)
    written = files.update(path, changes, readers, [identities, KmsAccess()], rotate=rotate)
    shown = escape(render.show_path(written.path))
    if written.removed:
        gone = ", ".join(policy.owner(env.name, r) or r for r in written.removed)
        err.print(f"[yellow]warning:[/] {escape(gone)} can no longer read {shown}: new data key")
    what = ", ".join(written.changed) if written.changed else "no value changed"
    key = "; new data key" if written.new_key else ""
    out.print(f"Wrote {shown} ({escape(what)}{key}) for {len(readers)} reader(s).")
    _sign(env, path, policy, where, out, err, required=False)
    return 0


def _sign(
    env: LoadedEnvironment,
    path: Path,
    policy: Policy,
    where: Path,
    out: Console,
    err: Console,
    *,
    required: bool,
) -> None:
    """Sign ``path`` with this user's signing key, as the principal it belongs to."""
    key_file = signing.default_key_file()
    key = signing.load_key(key_file)
    shown = escape(render.show_path(path))
    if key is None:
        message = f"{shown} is unsigned: no signing key in {escape(str(key_file))}"
        if required:
            raise SecretsError(
                f"{path} cannot be signed: no signing key in {key_file}",
                hint="`dockyard secrets keygen` makes one; add it to your principal",
            )
        err.print(f"[yellow]note:[/] {message} (`dockyard secrets keygen` makes one)")
        return
    signer = policy.signer(signing.public_text(key.public_key()))
    if signer is None:
        raise SecretsError(
            f"{where}: no principal has your signing key, so {path} was not signed",
            hint=f"add `signing: {signing.public_text(key.public_key())}` to your principal",
        )
    signing.sign(path, env.name, signer, key)
    out.print(f"Signed {shown} as {escape(signer)}.")


def _every_file(env: LoadedEnvironment) -> list[Path]:
    candidates = [files.secrets_path(env, None)]
    candidates += [files.secrets_path(env, s.name) for s in env.services]
    return [p for p in candidates if p.exists()]


def _verify(env: LoadedEnvironment, paths: list[Path], out: Console, err: Console) -> int:
    policy, where = load_policy(env.repo)
    failed = 0
    for path in paths:
        if not path.exists():
            raise SecretsError(f"{path} does not exist: there is nothing to verify")
        verdict = trust.verify(path, env.name, policy, where)
        shown = escape(render.show_path(path))
        if verdict.ok:
            out.print(f"[green]ok[/]     {shown}: signed by {escape(verdict.signer or '?')}")
            continue
        failed += 1
        for problem in verdict.problems:
            err.print(f"[red]failed[/] {shown}: {escape(problem)}")
        if any(p.startswith(("unsigned", "changed since")) for p in verdict.problems):
            service = _service_of(env, path)
            err.print(f"       sign it: dockyard secrets sign {escape(env.name)}{service}")
    if not paths:
        out.print(f"Environment {escape(env.name)} has no secrets files.")
    return 1 if failed else 0


def _service_of(env: LoadedEnvironment, path: Path) -> str:
    for service in env.services:
        if files.secrets_path(env, service.name) == path:
            return f" {service.name}"
    return ""


def _list(path: Path, as_json: bool, out: Console) -> int:
    if not path.exists():
        if as_json:
            render.print_json(None)
        else:
            out.print(f"{escape(render.show_path(path))} does not exist: no secrets yet.")
        return 0
    found = files.listing(path)
    if as_json:
        render.print_json(
            {
                "file": str(found.path),
                "lastmodified": found.lastmodified,
                "recipients": [{"kind": k, "id": i} for k, i in found.recipients],
                "secrets": found.names,
            }
        )
        return 0
    out.print(f"{escape(render.show_path(path))}  (last written {found.lastmodified})")
    for name, version in found.names.items():
        out.print(f"  {escape(name):<32} {version}")
    for kind, rid in found.recipients:
        out.print(f"  for {kind} {escape(rid)}")
    return 0
