"""Build once, ship by digest: what a release deploys, service by service.

After shipping, every service is named by an immutable reference: in an
environment with a registry ``<registry>/<project>/<service>@sha256:...``, else the local
image ID. A tag is never what a deploy trusts.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from dockyard.build.images import BuiltImage, build_environment
from dockyard.build.naming import image_repository
from dockyard.build.registry import digest_ref, push
from dockyard.build.versions import SourceVersion, file_version
from dockyard.engines.images import Images
from dockyard.errors import DeployError
from dockyard.events import Event, Reporter, silent
from dockyard.plan.model import ActualState
from dockyard.spec.loaded import LoadedEnvironment


@dataclass(frozen=True)
class Shipped:
    """One service's artifact, ready to deploy."""

    service: str
    image: str  # the immutable reference containers run
    digest: str | None  # the registry digest, when the environment has a registry
    version: SourceVersion
    pushed: bool  # False when the registry had it already (the running digest)


def ship(
    engine: Images,
    env: LoadedEnvironment,
    only: Collection[str] | None = None,
    *,
    actual: ActualState | None = None,
    push_images: bool = True,
    force: bool = False,
    report: Reporter = silent,
) -> dict[str, Shipped]:
    """Build (cached) and push the images of ``env`` (or of ``only``): ``build``,
    then ``ship_built``."""
    built = build(engine, env, only, force=force, report=report)
    return ship_built(engine, env, built, actual=actual, push_images=push_images, report=report)


def build(
    engine: Images,
    env: LoadedEnvironment,
    only: Collection[str] | None = None,
    *,
    force: bool = False,
    report: Reporter = silent,
) -> list[BuiltImage]:
    """Build (cached) the images of ``env``'s services and accessories (or of ``only``)."""
    report(Event("phase", "", "building images"))
    buildable = [n for n, a in env.spec.accessories.items() if a.build is not None]
    buildable += [s.name for s in env.services if s.spec.image is not None]
    wanted = None if only is None else [n for n in buildable if n in only]
    return build_environment(engine, env, wanted, force=force, report=report)


def ship_built(
    engine: Images,
    env: LoadedEnvironment,
    built: Sequence[BuiltImage],
    *,
    actual: ActualState | None = None,
    push_images: bool = True,
    report: Reporter = silent,
) -> dict[str, Shipped]:
    """Name each built image by an immutable reference, pushing it where needed.

    A built image that is exactly what already runs (same image ID as the running
    ``repo@digest``) is not pushed again: its digest is in the registry already.
    With ``push_images=False`` (a plan) nothing is pushed; new images are named by
    their local ID.
    """
    running = _running_refs(actual)
    registry = env.spec.registry
    shipped: dict[str, Shipped] = {}
    for image in built:
        reuse = _same_as_running(engine, image, running.get(image.service, []))
        if reuse is not None:
            digest = reuse.partition("@")[2] or None
            shipped[image.service] = Shipped(image.service, reuse, digest, image.version, False)
        elif registry is None or not push_images:
            shipped[image.service] = Shipped(
                image.service, image.image_id, None, image.version, False
            )
        else:
            report(Event("build", image.service, f"pushing {image.ref}"))

            def progress(line: str, subject: str = image.service) -> None:
                report(Event("output", subject, line))

            digest = push(engine, image, registry, progress)
            ref = digest_ref(image_repository(registry, image.project, image.service), digest)
            report(Event("build", image.service, f"pushed {ref}"))
            shipped[image.service] = Shipped(image.service, ref, digest, image.version, True)
    return shipped


def selection(env: LoadedEnvironment, names: Sequence[str]) -> set[str] | None:
    """The services (or accessories) a command names; None for all of them."""
    if not names:
        return None
    known = [*env.spec.accessories, *(s.name for s in env.services)]
    unknown = [n for n in names if n not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DeployError(
            f"environment {env.name} has no service or accessory named {', '.join(unknown)}",
            hint=f"{hint}it has: {', '.join(known)}",
        )
    return set(names)


def params_commit(env: LoadedEnvironment, service: str) -> str | None:
    """The commit of the service's params file for this environment, if it is in git."""
    svc = next((s for s in env.services if s.name == service), None)
    if svc is None or svc.params_path is None:
        return None
    return file_version(svc.params_path).commit


def _running_refs(actual: ActualState | None) -> dict[str, list[str]]:
    refs: dict[str, list[str]] = {}
    for task in actual.tasks if actual is not None else []:
        if task.definition is not None:
            refs.setdefault(task.service, []).append(task.definition.main.image)
    return refs


def _same_as_running(engine: Images, image: BuiltImage, running: list[str]) -> str | None:
    for ref in dict.fromkeys(running):
        if ref == image.image_id or engine.image_id(ref) == image.image_id:
            return ref
    return None
