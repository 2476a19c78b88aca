"""The operations the command line offers, as library calls.

Each takes a loaded environment and an engine and returns a value; none
prints. Progress goes to the ``report`` callback.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import partial

from dockyard.deploy.pipeline import Build, Planned, prepare
from dockyard.engines.base import Platform
from dockyard.events import Event, Reporter, silent
from dockyard.parallel import together
from dockyard.plan.desired import ingress_of
from dockyard.plan.discovery import AGENT_SERVICE
from dockyard.plan.ingress import HOLDER_SERVICE
from dockyard.plan.model import ActualTask
from dockyard.plan.supervisor import SUPERVISOR_SERVICE
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.spec.models import Port
from dockyard.state import StateStore


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
class TaskStatus:
    task: str
    replica: int
    state: str
    health: str | None
    release: str | None
    spec_hash: str
    restarts: int | None = None  # the most any of its containers was restarted
    problem: str | None = None  # what is wrong, when it does not run well
    last_lines: str | None = None  # the failing container's last log lines

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    kind: str
    desired: int
    running: int
    healthy: int
    ports: list[str]
    tasks: list[TaskStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.healthy == self.desired
            and len(self.tasks) == self.desired
            and all(t.ok for t in self.tasks)
        )


@dataclass(frozen=True)
class EnvironmentStatus:
    environment: str
    engine: str
    network: str | None
    volumes: list[str]
    services: list[ServiceStatus]


def status(engine: Platform, env: LoadedEnvironment) -> EnvironmentStatus:
    """What runs, service by service, against the replica counts the specs ask for."""
    actual = engine.observe(env.name)
    wanted: dict[str, tuple[str, int, list[str]]] = {}
    for name, acc in env.spec.accessories.items():
        wanted[name] = ("accessory", 1, _published(acc.ports))
    ingress = ingress_of(env)
    config = env.spec.ingress
    public = f"http://{config.host_ip}:{config.port}" if ingress and config.port else None
    for svc in env.services:
        ports = [p for c in svc.spec.containers.values() for p in _published(c.ports)]
        if public is not None:
            ports += [_route_url(public, r.host, r.path) for r in svc.spec.routes]
        wanted[svc.name] = ("service", svc.spec.deploy.replicas, ports)
    if ingress is not None:
        wanted[HOLDER_SERVICE] = ("accessory", 1, [])
        wanted[ingress.service] = ("accessory", 1, [public] if public else [])
    wanted[SUPERVISOR_SERVICE] = ("accessory", 1, [])
    if env.spec.discovery.registrars:
        wanted[AGENT_SERVICE] = ("accessory", 1, [])
    for t in actual.tasks:
        wanted.setdefault(t.service, (t.kind, 0, []))

    services = []
    for name, (kind, count, ports) in wanted.items():
        tasks = actual.tasks_of(name)
        services.append(
            ServiceStatus(
                name=name,
                kind=kind,
                desired=count,
                running=sum(1 for t in tasks if t.running),
                healthy=sum(1 for t in tasks if t.healthy),
                ports=ports,
                tasks=[_task_status(engine, t) for t in tasks],
            )
        )
    return EnvironmentStatus(
        environment=env.name,
        engine=engine.name,
        network=actual.network,
        volumes=actual.volumes,
        services=services,
    )


LAST_LINES = 5
"""Log lines ``status`` shows of a container that does not run well."""


def _task_status(engine: Platform, t: ActualTask) -> TaskStatus:
    bad = next((c for c in t.containers if not c.live), None)
    counts = [c.restarts for c in t.containers if c.restarts is not None]
    problem = last = None
    if bad is not None:
        problem = f"{bad.container} {bad.condition}"
        last = engine.logs(bad.id, tail=LAST_LINES).rstrip() or None
    return TaskStatus(
        task=t.task,
        replica=t.replica,
        state=t.main.status if t.main else "missing",
        health=t.main.health if t.main else None,
        release=t.release,
        spec_hash=t.spec_hash,
        restarts=max(counts) if counts else None,
        problem=problem,
        last_lines=last,
    )


def _route_url(public: str, host: str | None, path: str) -> str:
    """Where a route answers: the ingress's address, and the host to ask for."""
    url = public + ("" if path == "/" else path)
    return url if host is None else f"{url} (Host: {host})"


def _published(ports: list[Port]) -> list[str]:
    return [f"http://{p.host_ip}:{p.publish}" for p in ports if p.publish]


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
