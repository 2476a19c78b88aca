"""Checks of build contexts and Dockerfiles, on the paths as loaded, each error located.

A service's build context and Dockerfile must exist and stay inside the
service repo (the folder its ``source`` names); an accessory's inside the
environment repo. Paths are compared after ``..`` and symlinks are resolved,
as the build resolves them (:func:`dockyard.build.images.build_requests`), so
a link that leads elsewhere is refused too. No context may take in the
environment repo's ``.dockyard/`` folder, where the release history and the
deploy locks live: an accessory built from the repo root is refused, not
built with the state database inside.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.errors import SpecError
from dockyard.spec import codes
from dockyard.spec.hints import KeyPath
from dockyard.spec.models import ImageBuild
from dockyard.spec.yamlsource import SourceMap

STATE_FOLDER = ".dockyard"
"""The environment repo's folder of state (``state.db``), never part of a build context."""


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_build(
    image: ImageBuild,
    *,
    base: Path,
    repo: Path,
    repo_name: str,
    env_repo: Path,
    source: SourceMap,
    prefix: KeyPath,
    relative_to: str,
) -> list[SpecError]:
    """The problems of one build: ``image.build`` is relative to ``base``, and the
    context and Dockerfile must lie inside ``repo`` (called ``repo_name``)."""
    build_at: KeyPath = (*prefix, "build")
    dockerfile_at = next(
        (p for p in ((*prefix, "dockerfile"), build_at) if source.exists(p)), prefix
    )
    context = Path(os.path.normpath(base / image.build))
    real_context, real_repo = _real(context), _real(repo)
    lexical_repo = Path(os.path.normpath(repo))
    if not real_context.is_relative_to(real_repo):
        link = f" (a symlink to {real_context})" if context.is_relative_to(lexical_repo) else ""
        return [
            _error(
                f"build context {context}{link} lies outside {repo_name} {repo}",
                f"a build takes in only files of {repo_name}; move what the image needs "
                "into it and point `build` there",
                source,
                build_at,
            )
        ]
    if not context.is_dir():
        return [
            SpecError(
                f"build context {context} does not exist",
                hint=f"`build` is relative to the folder of {relative_to} ({base})",
                location=source.locate(build_at),
                code=codes.MISSING_BUILD,
            )
        ]
    state = _real(env_repo / STATE_FOLDER)
    if state.is_relative_to(real_context):
        return [
            _error(
                f"build context {context} takes in the environment repo's {STATE_FOLDER}/ "
                "folder (release history and deploy locks)",
                "point `build` at a folder of its own below the repo root, such as "
                "accessories/<name>",
                source,
                build_at,
            )
        ]
    dockerfile = Path(os.path.normpath(context / image.dockerfile))
    real_dockerfile = _real(dockerfile)
    if not real_dockerfile.is_relative_to(real_repo):
        inside = dockerfile.is_relative_to(lexical_repo)
        link = f" (a symlink to {real_dockerfile})" if inside else ""
        return [
            _error(
                f"Dockerfile {dockerfile}{link} lies outside {repo_name} {repo}",
                f"keep the Dockerfile in {repo_name}; `dockerfile` is relative to the context",
                source,
                dockerfile_at,
            )
        ]
    if dockerfile.is_file():
        return []
    return [
        SpecError(
            f"no {image.dockerfile} in the build context {context}",
            hint=f"add {image.dockerfile} there, or point `dockerfile` at the right file",
            location=source.locate(dockerfile_at),
            code=codes.MISSING_BUILD,
        )
    ]


def _error(message: str, hint: str, source: SourceMap, path: KeyPath) -> SpecError:
    return SpecError(message, hint=hint, location=source.locate(path), code=codes.OUTSIDE_REPO)
