"""Keeping an environment's release history: never started again by accident.

The engine labels every container with the release that started it. A store
that has no release of an environment whose releases run (its file deleted or
emptied, another database) has lost the history: a release would number from
#1 again and run every migration again. ``check_history`` refuses that, and is
called before anything writes history (``release``, ``rollback``, ``promote``,
``run``); ``adopt`` starts a new history on purpose, after the engine's highest
release.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engines.environment import Environments
from dockyard.errors import DeployError
from dockyard.plan.model import ActualState, ActualTask
from dockyard.state import (
    HistoryMissing,
    Release,
    ReleaseService,
    StateStore,
    StoreMissing,
)


@dataclass(frozen=True)
class Running:
    """The Dockyard releases an engine runs of one environment."""

    release: int  # the highest release label
    containers: int  # containers of tasks labelled with a release
    tasks: tuple[ActualTask, ...]


def running(actual: ActualState) -> Running | None:
    """What of ``actual`` Dockyard released; None when nothing carries a release."""
    tasks = tuple(t for t in actual.tasks if _number(t) is not None)
    if not tasks:
        return None
    highest = max(n for t in tasks if (n := _number(t)) is not None)
    return Running(highest, sum(len(t.containers) for t in tasks), tasks)


def check_history(engine: Environments, environment: str, store: StateStore | StoreMissing) -> None:
    """Raise :class:`HistoryMissing` when ``store`` (or the store found missing)
    has no release of ``environment`` but the engine runs releases of it."""
    if isinstance(store, StateStore):
        if store.has_history(environment):
            return
        location, found = store.location, f"no release of {environment} is recorded"
    else:
        location, found = store.store, store.reason
    seen = running(engine.observe(environment))
    if seen is None:
        return
    raise HistoryMissing(
        environment, location, found, seen.release, seen.containers, _restore(location)
    )


def adopt(engine: Environments, store: StateStore, environment: str, actor: str) -> Release:
    """Start a new history of ``environment`` from what the engine runs: one
    succeeded release of kind ``adopt``, numbered as the highest release the
    containers are labelled with, recording each service's image and spec hash.
    The next release numbers after it. Task runs start empty."""
    if store.has_history(environment):
        raise DeployError(
            f"the state store {store.location} already has a history of {environment}",
            hint=f"nothing to adopt; see `dockyard history {environment}`",
        )
    seen = running(engine.observe(environment))
    if seen is None:
        raise DeployError(
            f"the engine runs no release of {environment}: there is nothing to adopt",
            hint=f"release it: `dockyard release {environment}`",
        )
    return store.adopt_release(environment, seen.release, actor, _services(seen))


def _services(seen: Running) -> list[ReleaseService]:
    """Each service as its newest task runs it (the definition label it carries)."""
    newest: dict[str, ActualTask] = {}
    for task in seen.tasks:
        kept = newest.get(task.service)
        if kept is None or (_number(task) or 0) > (_number(kept) or 0):
            newest[task.service] = task
    services = []
    for name, task in sorted(newest.items()):
        image = task.definition.main.image if task.definition else ""
        services.append(
            ReleaseService(
                name=name,
                image=image or "(unknown)",
                digest=image.partition("@")[2] or None,
                spec_hash=task.spec_hash or None,
            )
        )
    return services


def _number(task: ActualTask) -> int | None:
    try:
        return int(task.release) if task.release is not None else None
    except ValueError:
        return None


def _restore(location: str) -> str:
    if location.startswith(("postgresql://", "postgres://")):
        return "restore the database from its backup"
    return f"stop every Dockyard process and copy its backup back to {location}"
