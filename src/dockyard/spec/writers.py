"""One writer per data volume: which tasks may write a named volume at once.

A named volume holds data a user cares about. Two programs writing one data
folder at the same time corrupt it unless they lock their files against each
other, and a lock that works inside one container may not work across two:
PostgreSQL's ``postmaster.pid`` names a PID that the other container cannot
see, so two servers started on one volume both believe they are alone.

So a writable mount of a named volume is exclusive unless the spec says
``shared: true``: no other task may mount it writable while it runs. Here that
means one service (or accessory) per volume, one replica of it, and no one-off
task that inherits the mount; rollouts of such a task are stop-first (see
``dockyard.plan.diff.rollout_order``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.errors import SpecError
from dockyard.spec import codes
from dockyard.spec.environment import EnvironmentSpec
from dockyard.spec.hints import KeyPath
from dockyard.spec.models import Container, ServiceSpec
from dockyard.spec.yamlsource import SourceMap

HINT = (
    "one task writes a data volume at a time; mark every mount of it `shared: true` "
    "only if the program locks its files across containers (PostgreSQL and MySQL "
    "do not), or mount it `read_only: true` where it is only read"
)


@dataclass(frozen=True)
class Mounter:
    """A service, accessory or one-off task with one writable mount of a volume."""

    what: str  # "service `api`", "task `api/migrate`"
    copies: int  # how many run at once (replicas; 1 for accessories and tasks)
    shared: bool
    source: SourceMap
    where: KeyPath


def check_writers(
    env: EnvironmentSpec,
    env_source: SourceMap,
    services: Sequence[tuple[str, ServiceSpec, SourceMap]],
) -> list[SpecError]:
    """Errors for every named volume that would get two writers at once.

    ``services`` holds ``(name, ServiceSpec, source)`` of each loaded service.
    """
    by_volume: dict[str, list[Mounter]] = {}

    def add(volume: str, mounter: Mounter) -> None:
        by_volume.setdefault(volume, []).append(mounter)

    for name, acc in env.accessories.items():
        for volume, shared, at in _writable(acc, ("accessories", name)):
            add(volume, Mounter(f"accessory `{name}`", 1, shared, env_source, at))
    for name, spec, source in services:
        for cname, container in spec.containers.items():
            for volume, shared, at in _writable(container, ("containers", cname)):
                add(
                    volume,
                    Mounter(f"service `{name}`", spec.deploy.replicas, shared, source, at),
                )
        for tname, task in spec.tasks.items():
            base = spec.containers.get(task.container or spec.main)
            if base is None:
                continue
            for volume, shared, _ in _writable(base, ()):
                add(
                    volume,
                    Mounter(f"task `{name}/{tname}`", 1, shared, source, ("tasks", tname)),
                )

    errors: list[SpecError] = []
    for volume, mounters in by_volume.items():
        if sum(m.copies for m in mounters) <= 1:
            continue
        exclusive = next((m for m in mounters if not m.shared), None)
        if exclusive is None:
            continue
        others = [_named(o) for o in mounters if o is not exclusive]
        if others:
            message = f"volume `{volume}` is written by {_named(exclusive)} and by {_join(others)}"
        else:
            message = f"volume `{volume}` would be written by {_named(exclusive)} at once"
        location = exclusive.source.locate(exclusive.where)
        errors.append(SpecError(message, hint=HINT, location=location, code=codes.VOLUME_WRITERS))
    return errors


def _named(m: Mounter) -> str:
    return f"{m.copies} replicas of {m.what}" if m.copies > 1 else m.what


def _writable(container: Container, prefix: KeyPath) -> list[tuple[str, bool, KeyPath]]:
    return [
        (v.name, v.shared, (*prefix, "volumes", i))
        for i, v in enumerate(container.volumes)
        if v.name is not None and not v.read_only
    ]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
