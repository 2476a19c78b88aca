"""Finding the environment repo and its environments."""

from __future__ import annotations

from pathlib import Path

from dockyard.errors import RepoError
from dockyard.spec import codes
from dockyard.spec.hints import closest

ENVIRONMENTS = "environments"


def find_repo(start: Path) -> Path:
    """The environment repo that holds ``start``: like git, walk up to a folder
    that contains an ``environments/`` folder.
    """
    here = start.absolute()
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / ENVIRONMENTS).is_dir():
            return folder
    raise RepoError(
        f"no environment repo found at {start} or any folder above it",
        hint=f"run inside an environment repo (a folder with `{ENVIRONMENTS}/`) or pass -C DIR",
        code=codes.NO_REPO,
    )


def environment_names(repo: Path) -> list[str]:
    """The environments of ``repo``: the names of ``environments/*.yaml``, sorted."""
    folder = repo / ENVIRONMENTS
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())


def environment_path(repo: Path, name: str) -> Path:
    """``environments/<name>.yaml`` of ``repo``; RepoError when there is none."""
    names = environment_names(repo)
    if name in names:
        return repo / ENVIRONMENTS / f"{name}.yaml"
    if not names:
        raise RepoError(
            f"environment `{name}` not found: {repo / ENVIRONMENTS} holds no environment files",
            hint=f"create {ENVIRONMENTS}/{name}.yaml",
            code=codes.UNKNOWN_ENVIRONMENT,
        )
    available = ", ".join(names)
    match = closest(name, names)
    hint = f"did you mean `{match}`? " if match else ""
    raise RepoError(
        f"unknown environment `{name}`",
        hint=f"{hint}environments in {repo / ENVIRONMENTS}: {available}",
        code=codes.UNKNOWN_ENVIRONMENT,
    )
