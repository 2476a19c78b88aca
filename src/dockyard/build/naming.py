"""Whose images these are: the project of an environment repo, the names and labels
of the images built for it.

Every image is named ``dockyard/<project>/<name>`` (no registry) or
``<registry url>/<project>/<name>`` and carries the labels of :func:`image_labels`.
The project is the environment file's ``project:``; without one it comes from
the environment repo's folder:

* for local names, the folder's name and 8 hex digits of a hash of its resolved
  path (``platform-1a2b3c4d``), so two environment repos on one machine never
  share a name, even when their folders have the same name;
* for registry names, the folder's name alone (``platform``), so that every
  checkout of the repo (a laptop, CI) pushes to the same repository.

Dockyard's own images (``dockyard/ingress``, the base image) have two path
components and so never meet a project's three.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from dockyard.build.versions import SourceVersion
from dockyard.plan.model import LABEL_ENV, LABEL_SERVICE
from dockyard.spec.environment import RegistryConfig
from dockyard.spec.loaded import LoadedEnvironment

LOCAL_NAMESPACE = "dockyard"
"""First path component of images built for an environment without a registry."""
LABEL_PROJECT = "dockyard.project"
LABEL_COMMIT = "dockyard.commit"
LABEL_DIRTY = "dockyard.dirty"
PATH_HASH = 8
"""Hex digits of the repo path's hash in a local project name."""
MAX_PROJECT = 64

_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def folder_project(repo: Path) -> str:
    """The environment repo folder's name as a repository path component
    (lowercase, runs of other characters as one ``-``); ``project`` when nothing is left."""
    slug = _NOT_ALLOWED.sub("-", repo.resolve().name.lower()).strip("-")
    return slug[: MAX_PROJECT - PATH_HASH - 1].strip("-") or "project"


def local_project(repo: Path) -> str:
    """``<folder>-<8 hex of the resolved path's hash>``: unique to the folder on this machine."""
    digest = hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:PATH_HASH]
    return f"{folder_project(repo)}-{digest}"


def project_of(env: LoadedEnvironment) -> str:
    """The project the environment's images are named and labelled by."""
    if env.spec.project is not None:
        return env.spec.project
    return folder_project(env.repo) if env.spec.registry else local_project(env.repo)


def namespace(registry: RegistryConfig | None, project: str) -> str:
    """``<registry url>/<project>``, or ``dockyard/<project>`` without a registry."""
    return f"{registry.url if registry else LOCAL_NAMESPACE}/{project}"


def image_repository(registry: RegistryConfig | None, project: str, name: str) -> str:
    """The repository of ``name``'s images: ``<namespace>/<name>``."""
    return f"{namespace(registry, project)}/{name}"


def env_repository(env: LoadedEnvironment, name: str) -> str:
    """The repository of ``name``'s images in ``env``."""
    return image_repository(env.spec.registry, project_of(env), name)


def image_labels(env: LoadedEnvironment, name: str, version: SourceVersion) -> dict[str, str]:
    """The labels of an image built for ``name`` in ``env``: the environment's
    ``labels:``, then whose it is and what it was built from.

    ``dockyard.commit`` is the last commit that changed the source, not ``HEAD``: a
    commit elsewhere in the repo leaves the image, and so its ID, as it was.
    """
    labels = {
        **env.spec.labels,
        LABEL_PROJECT: project_of(env),
        LABEL_ENV: env.name,
        LABEL_SERVICE: name,
        LABEL_DIRTY: str(version.dirty).lower(),
    }
    if version.last_commit is not None:
        labels[LABEL_COMMIT] = version.last_commit
    return labels
