"""The version of a source: which commit it is, and whether it has uncommitted changes.

An image is tagged with the version of the sources it was built from: the first
12 hex digits of the commit checked out (``HEAD``), plus ``-dirty`` when the
folder has changes that are not committed (untracked files included). Sources
with no commit to name them by (not a git checkout, a repo without commits, an
untracked file) are tagged ``nogit-`` and 12 hex digits of a hash of their
content, and always count as dirty.

One git call tells the commit and the changes of a folder
(``git status --porcelain=v2 --branch``), a second one, only when it has no
changes, makes sure git does not ignore it altogether (``git ls-tree``), and a
last one finds the last commit that changed it (``git log -1``), which images
are labelled with. A file takes two (``git log`` for the last commit that
touched it, ``git status`` for its changes).
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.build.errors import SourceVersionError

SHORT = 12
"""Hex digits of a commit (or content hash) in a tag."""
GIT_TIMEOUT = 30.0
"""Seconds a git call may take."""

_REPO_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)
"""Set by git for its hooks; they would point git at another repo than the folder's own."""


@dataclass(frozen=True)
class SourceVersion:
    """Which commit a source is at, whether it has uncommitted changes, and its tag."""

    commit: str | None
    dirty: bool
    tag: str
    last_commit: str | None = None
    """The last commit that changed the source (``commit`` or older); None outside git."""


class _NotARepo(Exception):
    """No commit to go by: not a git checkout, no commit yet, or git is not installed."""


def source_version(folder: Path, context: Path | None = None) -> SourceVersion:
    """The version of ``folder`` (a service repo, or a build context in the environment repo).

    ``context`` is the build context when it differs from ``folder``: its
    changes count as well, and it is what the ``nogit-`` hash covers.
    """
    folder = folder.resolve()
    context = (context or folder).resolve()
    if not folder.is_dir():
        raise SourceVersionError(
            f"cannot tell the version of {folder}: it is not a folder",
            hint="Check the service's source in the environment file.",
        )
    paths = [folder] if context.is_relative_to(folder) else [folder, context]
    try:
        out = _git(folder, ["status", "--porcelain=v2", "--branch", "--", *map(str, paths)])
    except _NotARepo:
        return _unversioned(tree_hash(context))
    commit: str | None = None
    changed = False
    for line in out.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ").strip()
            commit = oid if oid != "(initial)" else None
        elif line and not line.startswith("#"):
            changed = True
    if commit is None:  # a repo without commits yet
        return _unversioned(tree_hash(context))
    if not changed and not _git(folder, ["ls-tree", "HEAD", "--", "."]).strip():
        # Nothing to commit and nothing committed: git ignores the folder.
        return _unversioned(tree_hash(context))
    last = _git(folder, ["log", "-1", "--format=%H", "--", *map(str, paths)]).strip()
    return SourceVersion(
        commit=commit, dirty=changed, tag=_tag(commit, changed), last_commit=last or None
    )


def file_version(path: Path) -> SourceVersion:
    """The version of one file (a service's ``params/<env>.yaml``): the last commit that
    changed it, and whether it has changes since."""
    path = path.resolve()
    if not path.is_file():
        raise SourceVersionError(
            f"cannot tell the version of {path}: there is no such file",
            hint="Check the path; a params file is params/<environment>.yaml in the service repo.",
        )
    folder, name = path.parent, path.name
    try:
        commit = _git(folder, ["log", "-1", "--format=%H", "--", name]).strip() or None
        changed = bool(_git(folder, ["status", "--porcelain", "--", name]).strip())
    except _NotARepo:
        return _unversioned(_file_digest(path))
    if commit is None:  # untracked, or added but never committed
        return _unversioned(_file_digest(path))
    return SourceVersion(
        commit=commit, dirty=changed, tag=_tag(commit, changed), last_commit=commit
    )


def tree_hash(folder: Path) -> str:
    """SHA-256 (hex) over the relative paths, executable bits and contents of the files
    under ``folder``; ``.git`` folders are left out and symlinks are not followed."""
    digest = hashlib.sha256()
    for path in _files(folder):
        relative = path.relative_to(folder).as_posix()
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            kind, content = b"l", os.readlink(path).encode()
        else:
            kind = b"x" if info.st_mode & stat.S_IXUSR else b"f"
            content = _file_digest(path).encode()
        digest.update(kind + b"\0" + relative.encode() + b"\0" + content + b"\n")
    return digest.hexdigest()


def _files(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        base = Path(root)
        # Symlinks to folders show up in dirs and are not walked into; hash them as links.
        links = [d for d in dirs if (base / d).is_symlink()]
        dirs[:] = [d for d in dirs if d not in links]
        for name in sorted([*files, *links]):
            yield base / name


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as e:
        raise SourceVersionError(
            f"cannot read {path} to hash it: {e.strerror or e}",
            hint="Make the file readable, or leave it out of the build context.",
        ) from e
    return digest.hexdigest()


def _unversioned(content_hash: str) -> SourceVersion:
    return SourceVersion(commit=None, dirty=True, tag=f"nogit-{content_hash[:SHORT]}")


def _tag(commit: str, dirty: bool) -> str:
    return commit[:SHORT] + ("-dirty" if dirty else "")


def _git(folder: Path, args: Sequence[str]) -> str:
    """Run git in ``folder`` and return its output; _NotARepo when there is no repo."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_VARIABLES}
    # Paths are taken as they are (no globs); status takes no lock that a commit could meet.
    env.update(
        LC_ALL="C", GIT_LITERAL_PATHSPECS="1", GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0"
    )
    command = ["git", "-C", str(folder), *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=GIT_TIMEOUT, check=False
        )
    except FileNotFoundError as e:
        raise _NotARepo from e
    except subprocess.TimeoutExpired as e:
        raise SourceVersionError(
            f"cannot tell the version of {folder}: `git {args[0]}` took more than {GIT_TIMEOUT:g}s",
            hint="Check the repo with `git status`; a huge untracked folder may be the cause.",
        ) from e
    except OSError as e:
        raise SourceVersionError(f"cannot run git in {folder}: {e.strerror or e}") from e
    if done.returncode == 0:
        return done.stdout
    error = done.stderr.strip()
    if "not a git repository" in error or "does not have any commits yet" in error:
        raise _NotARepo
    lines = error.splitlines()
    said = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
    raise SourceVersionError(
        f"cannot tell the version of {folder}: `git {args[0]}` failed: "
        + (said or (lines[0] if lines else f"exit code {done.returncode}")),
        hint=_hint(error, folder),
    )


def _hint(error: str, folder: Path) -> str:
    if "dubious ownership" in error:
        return (
            "The repo belongs to another user; if you trust it, run "
            f"`git config --global --add safe.directory {folder}`."
        )
    if "outside repository" in error:
        return (
            "The build context is in another repo than the service; keep image.build "
            "inside the service repo."
        )
    return f"Run `git status` in {folder} to see what git says, and fix the repo."
