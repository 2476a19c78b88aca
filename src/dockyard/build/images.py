"""Build the images an environment needs, through its engine, named by source version.

An image is named ``<registry url>/<project>/<service>:<version tag>`` when the
environment has a registry, ``dockyard/<project>/<service>:<version tag>``
otherwise (see :mod:`dockyard.build.naming` for the project and
:mod:`dockyard.build.versions` for the tag). A service's version is that of its
source folder (and of its build context, when that lies outside); an
accessory's is that of its build context in the environment repo. Containers
run the image ID (or, once pushed, the digest), never the tag.

The image is labelled with its project, environment, service and the last
commit that changed its source (:func:`dockyard.build.naming.image_labels`), so
each environment gets an image of its own; a commit that changes nothing of a
source leaves its image ID as it was.

Images are built at the same time, as many at once as the engine says it can
(``BuildsAtOnce``; one after the other otherwise): no image of an environment is
built from another. Each build's output is reported under its service's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable

from dockyard.build.errors import DirtySource, UnknownImage
from dockyard.build.naming import env_repository, image_labels, project_of
from dockyard.build.versions import SourceVersion, source_version
from dockyard.engines.images import Images
from dockyard.engines.model import BuildRequest
from dockyard.events import Event, Reporter, silent
from dockyard.parallel import together
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.spec.models import ImageBuild


@runtime_checkable
class BuildsAtOnce(Protocol):
    """An engine that runs several builds at the same time, and how many."""

    builds_at_once: int


@dataclass(frozen=True)
class BuildJob:
    """One image to build, and the version of the sources it is built from."""

    request: BuildRequest
    version: SourceVersion
    source: Path
    """The folder whose version it is (service repo, or build context)."""


@dataclass(frozen=True)
class BuiltImage:
    """An image built for a service or accessory."""

    service: str
    image_id: str
    repository: str
    tag: str
    version: SourceVersion
    project: str

    @property
    def ref(self) -> str:
        """``repository:tag``."""
        return f"{self.repository}:{self.tag}"


def build_requests(env: LoadedEnvironment, only: Iterable[str] | None = None) -> list[BuildJob]:
    """One job per accessory or service that builds its own image (those of ``only``).

    Raises UnknownImage when ``only`` names something that builds no image.
    """
    wanted = set(only) if only is not None else None
    jobs: list[BuildJob] = []
    for name, acc in env.spec.accessories.items():
        if acc.build is not None and (wanted is None or name in wanted):
            context = (env.path.parent / acc.build.build).resolve()
            jobs.append(_job(env, name, acc.build, context, source=context))
    for svc in env.services:
        image = svc.spec.image
        if image is not None and (wanted is None or svc.name in wanted):
            context = (svc.path.parent / image.build).resolve()
            jobs.append(_job(env, svc.name, image, context, source=svc.source.resolve()))
    if wanted is not None:
        missing = sorted(wanted - {job.request.service for job in jobs})
        if missing:
            raise _unknown(env, missing)
    return jobs


def _job(
    env: LoadedEnvironment, name: str, build: ImageBuild, context: Path, source: Path
) -> BuildJob:
    """The build of ``name`` from ``context``; its version is that of ``source``
    (the service repo, or the build context of an accessory)."""
    version = source_version(source, context)
    request = BuildRequest(
        service=name,
        context=context,
        dockerfile=build.dockerfile,
        tag=f"{env_repository(env, name)}:{version.tag}",
        args=dict(build.args),
        target=build.target,
        labels=image_labels(env, name, version),
    )
    return BuildJob(request, version, source)


def build_environment(
    engine: Images,
    env: LoadedEnvironment,
    only: Iterable[str] | None = None,
    *,
    force: bool = False,
    report: Reporter = silent,
) -> list[BuiltImage]:
    """Build every image of ``env`` (or those of ``only``); returned in file order.

    A protected environment refuses sources with uncommitted changes (DirtySource)
    before anything is built, unless ``force``. When a build fails, no other build
    starts; those under way finish (a whole image, or none), then the failure is
    raised.
    """
    jobs = build_requests(env, only)
    if env.spec.protected and not force:
        dirty = [job for job in jobs if job.version.dirty]
        if dirty:
            raise _dirty(env, dirty)
    project = project_of(env)
    built: dict[int, BuiltImage] = {}

    def build(n: int, job: BuildJob) -> None:
        request = job.request
        report(Event("build", request.service, f"building {request.tag}"))

        def progress(line: str) -> None:
            report(Event("output", request.service, line))

        image_id = engine.build(request, progress)
        repository = env_repository(env, request.service)
        built[n] = BuiltImage(
            request.service, image_id, repository, job.version.tag, job.version, project
        )
        report(Event("build", request.service, f"built {image_id[:19]} ({request.tag})"))

    slots = engine.builds_at_once if isinstance(engine, BuildsAtOnce) else 1
    together([partial(build, n, job) for n, job in enumerate(jobs)], limit=slots)
    return [built[n] for n in range(len(jobs))]


def _dirty(env: LoadedEnvironment, jobs: list[BuildJob]) -> DirtySource:
    lines = [f"  {job.request.service}: {job.source}" for job in jobs]
    return DirtySource(
        f"environment {env.name} is protected and these sources have uncommitted changes "
        "(or are not in git):\n" + "\n".join(lines),
        hint="Commit the changes and build again, or pass --force to build from the "
        "working tree anyway.",
    )


def _unknown(env: LoadedEnvironment, missing: list[str]) -> UnknownImage:
    builds = [name for name, acc in env.spec.accessories.items() if acc.build is not None]
    builds += [svc.name for svc in env.services if svc.spec.image is not None]
    return UnknownImage(
        f"environment {env.name} has no image to build for {', '.join(missing)}",
        hint=f"Images built in {env.name}: {', '.join(builds) or 'none'}.",
    )
