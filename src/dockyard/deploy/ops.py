"""The operations the command line offers, as library calls.

Each takes a loaded environment and an engine and returns a value; none
prints. Progress goes to the ``report`` callback.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import partial

from dockyard.deploy.pipeline import Build, Planned, prepare
from dockyard.deploy.status import EnvironmentStatus, ServiceStatus, TaskStatus, status
from dockyard.engines.base import Platform
from dockyard.events import Event, Reporter, silent
from dockyard.parallel import together
from dockyard.plan.model import ActualTask
from dockyard.plan.supervisor import SUPERVISOR_SERVICE
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.state import StateStore

__all__ = [
    "EnvironmentStatus",
    "Removed",
    "ServiceStatus",
    "TaskStatus",
    "down",
    "make_plan",
    "status",
]


def make_plan(
    engine: Platform,
    env: LoadedEnvironment,
    only: Collection[str] | None = None,
    report: Reporter = silent,
    store: StateStore | None = None,
) -> Planned:
    """Build the images (cached builds are cheap, nothing is pushed), then diff
    desired against actual. A service whose build matches what runs keeps its
    running digest; a new build shows as its local image ID. With the ``store``,
    the plan lists the one-off tasks a release would run or skip."""
    return prepare(engine, env, Build(push=False), only, store=store, report=report)


@dataclass(frozen=True)
class Removed:
    tasks: list[str]
    network: str | None
    volumes: list[str]


def down(
    engine: Platform,
    environment: str,
    volumes: bool = False,
    report: Reporter = silent,
    store: StateStore | None = None,
) -> Removed:
    """Remove every task and the network of ``environment``; its volumes too if asked.
    Removing the volumes resets the environment's data: the ``store`` then forgets
    which before-deploy tasks (migrations) succeeded, so the next release runs them."""
    actual = engine.observe(environment)
    removed: list[str] = []

    def remove(task: ActualTask) -> None:
        engine.remove_task(task)
        report(Event("stop", task.service, f"removed {task.task}"))

    for group in _removal_groups(actual.tasks):
        together(partial(remove, task) for task in group)
        removed += [task.task for task in group]
    for name in engine.remove_oneoffs(environment):
        removed.append(name)
        report(Event("stop", "", f"removed the leftover task container {name}"))
    if actual.network:
        engine.remove_network(environment)
        report(Event("stop", "", f"removed network {actual.network}"))
    gone: list[str] = []
    if volumes:
        for volume in actual.volumes:
            engine.remove_volume(volume)
            gone.append(volume)
            report(Event("stop", "", f"removed volume {volume}"))
        if store is not None:
            store.reset_data(environment)
    return Removed(removed, actual.network, gone)


def _removal_groups(tasks: Sequence[ActualTask]) -> list[list[ActualTask]]:
    """The tasks in groups whose members stop at the same time, one group after the
    other: services (and the supervisor, which no task depends on) before the
    accessories they may depend on, and a task that joins another's network
    namespace (the ingress's Caddy) before that one."""
    joined = {t.definition.joins for t in tasks if t.definition is not None}
    groups: dict[tuple[bool, bool], list[ActualTask]] = {}
    for task in tasks:
        later = task.kind == "accessory" and task.service != SUPERVISOR_SERVICE
        groups.setdefault((later, task.task in joined), []).append(task)
    return [groups[key] for key in sorted(groups)]
