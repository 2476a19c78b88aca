"""Promotion: carry the exact artifacts running in one environment into another.

The source of truth for "what runs" is the source environment's engine: each
service's running image reference, read back from its task labels. Nothing is
rebuilt. When the destination has a registry the image is copied into it by
digest (and must keep that digest), as ``<registry>/<project>/<service>`` with the
destination's project; otherwise the destination's engine pulls it.
"""

from __future__ import annotations

from collections.abc import Collection

from dockyard.build.credentials import auth_config
from dockyard.build.naming import project_of
from dockyard.build.registry import copy_image, digest_ref, ensure_image, split_digest_ref
from dockyard.deploy.target import Target
from dockyard.errors import DeployError
from dockyard.events import Event, Reporter
from dockyard.state import ReleaseService


def carry_images(
    source: Target, dest: Target, only: Collection[str] | None, report: Reporter
) -> tuple[dict[str, str], list[ReleaseService], str]:
    """Image references for ``dest`` (service → ref), what the source release recorded
    of each service, and the source's label (``staging#12``)."""
    names = _services(source, dest, only)
    running = _running(source, names)
    recorded = source.store.last_succeeded(source.env.name)
    label = recorded.label if recorded else f"{source.env.name}#?"
    src_auth = auth_config(source.env.spec.registry) if source.env.spec.registry else None
    project = project_of(dest.env)
    images: dict[str, str] = {}
    for name in names:
        ref = running[name]

        def progress(line: str, subject: str = name) -> None:
            report(Event("output", subject, line))

        if dest.env.spec.registry is not None:
            report(Event("build", name, f"copying {ref} to {dest.env.spec.registry.url}"))
            # The image must be local to the engine that copies it: a local image ID
            # only exists on the source's engine.
            engine = dest.engine if split_digest_ref(ref) else source.engine
            registry = dest.env.spec.registry
            repository = f"{project}/{name}"
            digest = copy_image(engine, ref, src_auth, registry, repository, progress)
            images[name] = digest_ref(f"{registry.url}/{repository}", digest)
        else:
            if split_digest_ref(ref):
                ensure_image(dest.engine, ref, src_auth, progress)
            elif dest.engine.image_id(ref) is None:
                raise DeployError(
                    f"{name} runs the local image {ref[:19]} in {source.env.name}, which the "
                    f"engine of {dest.env.name} does not have",
                    hint=f"give {dest.env.name} a registry, or promote between environments "
                    "on the same engine",
                )
            images[name] = ref
    records = [
        (recorded.service(n) if recorded else None) or ReleaseService(name=n, image=running[n])
        for n in names
    ]
    return images, records, label


def _services(source: Target, dest: Target, only: Collection[str] | None) -> list[str]:
    theirs = [s.name for s in dest.env.services if s.spec.image is not None]
    if only is None:
        return theirs
    unknown = sorted(set(only) - set(theirs))
    if unknown:
        raise DeployError(
            f"{dest.env.name} has no built service named {', '.join(unknown)}",
            hint=f"its services: {', '.join(theirs)}",
        )
    return [n for n in theirs if n in only]


def _running(source: Target, names: list[str]) -> dict[str, str]:
    actual = source.engine.observe(source.env.name)
    found: dict[str, str] = {}
    for name in names:
        healthy = [t for t in actual.tasks_of(name) if t.healthy and t.definition is not None]
        refs = {t.definition.main.image for t in healthy if t.definition is not None}
        if not refs:
            raise DeployError(
                f"{name} does not run healthy in {source.env.name}: nothing to promote",
                hint=f"deploy it to {source.env.name} first (dockyard release "
                f"{source.env.name} {name})",
            )
        if len(refs) > 1:
            raise DeployError(
                f"{name} runs {len(refs)} different images in {source.env.name} (a deploy is "
                "under way or was interrupted)",
                hint=f"finish or repeat the deploy to {source.env.name}, then promote",
            )
        found[name] = refs.pop()
    return found
