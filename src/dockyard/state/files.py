"""The SQLite store's files: whether one is there, and who may read them.

The store is owner-only: the database file and its ``-wal`` and ``-shm``
companions are 0600, and the default ``.dockyard`` folder 0700. Dockyard
creates the file itself with that mode before SQLite opens it (SQLite gives the
companions the database file's mode), and tightens looser modes every time it
opens the store. A folder named by ``state.url`` is the user's and is created
0700 when missing, but otherwise left as it is.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700
COMPANIONS = ("-wal", "-shm", "-journal")


def missing(path: Path) -> str | None:
    """Why there is no store at ``path`` (``no such file``, ``an empty file``), or
    None when there is a file with content (whether it has tables is for SQL)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "no such file"
    return "an empty file" if size == 0 else None


def create(path: Path, *, own_folder: bool) -> None:
    """Make sure ``path`` exists, owner-only, in an owner-only folder when the
    folder is new or Dockyard's own (``own_folder``)."""
    folder = path.parent
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        own_folder = True
    if own_folder:
        _tighten(folder, FOLDER_MODE)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    tighten(path, own_folder=own_folder)


def tighten(path: Path, *, own_folder: bool) -> None:
    """Take every permission but the owner's off the store's files (and its
    folder when it is Dockyard's own). Files of another user are left alone."""
    if own_folder:
        _tighten(path.parent, FOLDER_MODE)
    for name in (path, *(path.with_name(path.name + suffix) for suffix in COMPANIONS)):
        _tighten(name, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            os.chmod(path, current & mode)
    except (FileNotFoundError, PermissionError):
        pass
