"""Two things ``dockyard secrets`` does around a file: which names changed between
two revisions of it (no values), and editing it in ``$EDITOR`` with the
decrypted copy on a tmpfs only."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from dockyard.errors import SecretsError
from dockyard.secrets import sops

GIT_TIMEOUT = 30.0
MEMORY_FOLDERS = ("/dev/shm", "/run/user/{uid}")
"""Where a decrypted copy may be written: folders on a tmpfs (memory)."""


@dataclass(frozen=True)
class NameChanges:
    added: list[str]
    removed: list[str]
    changed: list[str]  # written again (a new ciphertext), maybe with the same value


def versions_at(path: Path, revision: str | None) -> dict[str, str]:
    """Each secret's version in ``path`` at git ``revision`` (None: the file as it is
    now); empty when the file did not exist then."""
    if revision is None:
        return _versions(path.read_text(), path) if path.exists() else {}
    try:
        top, relative = _in_repository(path)
        text = _git(top, "show", f"{revision}:{relative}")
    except _Missing:
        return {}
    return _versions(text, path)


def history(path: Path, depth: int) -> Iterator[str]:
    """The text of ``path`` as each of the last ``depth`` commits that changed it left
    it, newest first; nothing outside a git repository."""
    try:
        top, relative = _in_repository(path)
        revisions = _git(top, "log", f"-n{depth}", "--format=%H", "--", relative).split()
    except (SecretsError, _Missing, ValueError):
        return
    for revision in revisions:
        try:
            yield _git(top, "show", f"{revision}:{relative}")
        except _Missing:  # the commit removed it
            continue


def _in_repository(path: Path) -> tuple[Path, str]:
    """The top folder of the git repository ``path`` is in, and its path there."""
    folder = path.parent if path.parent.exists() else path.parent.parent
    if not folder.exists():
        raise _Missing
    top = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    return top, path.resolve().relative_to(top.resolve()).as_posix()


def compare(before: dict[str, str], after: dict[str, str]) -> NameChanges:
    return NameChanges(
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        changed=sorted(n for n in set(before) & set(after) if before[n] != after[n]),
    )


def _versions(text: str, path: Path) -> dict[str, str]:
    file = sops.parse(text, path)
    return {n: file.version(n) for n in file.names()}


class _Missing(Exception):
    pass


def _git(folder: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=GIT_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SecretsError(f"git {' '.join(args[:1])} failed: {e}") from None
    if done.returncode != 0:
        if "exists on disk, but not in" in done.stderr or "does not exist in" in done.stderr:
            raise _Missing
        if "not a git repository" in done.stderr:
            raise SecretsError(f"{folder} is not in a git repository: there are no revisions")
        raise SecretsError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def memory_folder() -> Path:
    """A folder on a tmpfs this user may write, for a decrypted copy."""
    for pattern in MEMORY_FOLDERS:
        folder = Path(pattern.format(uid=os.getuid()))
        if folder.is_dir() and os.access(folder, os.W_OK) and _on_tmpfs(folder):
            return folder
    raise SecretsError(
        "no tmpfs to hold the decrypted copy (/dev/shm or /run/user/UID): "
        "the plaintext would go to disk",
        hint="set each value with `dockyard secrets set` instead",
    )


def _on_tmpfs(folder: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    best, kind = "", ""
    target = str(folder.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1]
        under = target == point or target.startswith(point.rstrip("/") + "/")
        if under and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind == "tmpfs"


def edit_values(values: dict[str, object], editor: Sequence[str], name: str) -> dict[str, object]:
    """``values`` as the user leaves them after ``editor`` ran on a YAML copy of them
    on a tmpfs (0600, removed afterwards, whatever happens)."""
    fd, temporary = tempfile.mkstemp(
        prefix="dockyard-secrets-", suffix=f"-{name}.yaml", dir=memory_folder()
    )
    copy = Path(temporary)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(yaml.safe_dump(values, sort_keys=False, allow_unicode=True))
        done = subprocess.run([*editor, str(copy)])
        if done.returncode != 0:
            raise SecretsError(f"the editor exited {done.returncode}: nothing was changed")
        edited = yaml.safe_load(copy.read_text()) or {}
    except yaml.YAMLError as e:
        raise SecretsError(
            f"the edited secrets are not valid YAML ({e}): nothing was changed"
        ) from None
    finally:
        copy.unlink(missing_ok=True)
    if not isinstance(edited, dict):
        raise SecretsError("the edited secrets are not a mapping of names to values")
    return {str(k): v for k, v in edited.items()}


def editor_command() -> list[str]:
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
