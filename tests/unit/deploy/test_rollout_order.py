"""A rollout's order: what overlaps, what waits, and what a failure puts back.

A fake engine stands in for Docker: it starts and removes tasks at once and
notes each step, and a removal can be held until something else has happened.
tests/engine/test_apply.py runs the same rollouts against a real engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

import pytest

from dockyard.deploy import rollout
from dockyard.deploy.apply import apply
from dockyard.engines.base import Engine
from dockyard.engines.errors import TaskNotReady
from dockyard.engines.model import NO_SECRETS, SecretValues
from dockyard.events import Event
from dockyard.plan import plan
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    ContainerDef,
    DesiredState,
    PortDef,
    ServiceDef,
    TaskDef,
)
from tests.unit.plan import states

ENV = "e"
DEADLINE = 10.0
"""Seconds a held removal waits for what it waits for."""


def service(message: str, **deploy: object) -> ServiceDef:
    container = ContainerDef(name="web", image="sha256:web", env={"MESSAGE": message})
    values: dict[str, object] = {"name": "web", "task": TaskDef(containers=[container])}
    return ServiceDef.model_validate({**values, "replicas": 2, **deploy})


def desired(*services: ServiceDef) -> DesiredState:
    return DesiredState(environment=ENV, network=f"dockyard-{ENV}", services=list(services))


def running(svc: ServiceDef, replica: int, release: str = "1") -> ActualTask:
    return states.running(svc, replica, environment=ENV, release=release)


class Recording:
    """Tasks by name, and a log of what happened to them: ``start NAME``,
    ``ready NAME``, ``stop NAME`` (the removal began), ``gone NAME``."""

    def __init__(self, tasks: list[ActualTask]) -> None:
        self.tasks = {t.task: t for t in tasks}
        self.log: list[str] = []
        self.lock = threading.Lock()
        self.hold: dict[str, Callable[[], None]] = {}  # before a task's removal ends
        self.not_ready: set[str] = set()  # tasks that fail to become ready
        self.hold_ready: dict[str, Callable[[], None]] = {}  # by service, before it is ready
        self.noted = threading.Condition(self.lock)

    def note(self, line: str) -> None:
        with self.noted:
            self.log.append(line)
            self.noted.notify_all()

    def wait_for(self, line: str) -> bool:
        with self.noted:
            return self.noted.wait_for(lambda: line in self.log, DEADLINE)

    def actual(self) -> ActualState:
        return ActualState(
            environment=ENV, network=f"dockyard-{ENV}", tasks=list(self.tasks.values())
        )

    # What runs, and container access: Dockyard's batches need them of an engine;
    # these environments have no network to make and no ingress to reach.

    def observe(self, environment: str) -> ActualState:
        return self.actual()

    def ensure_network(self, desired: DesiredState) -> None:
        pass

    def ensure_volume(self, desired: DesiredState, volume: str) -> None:
        pass

    def remove_network(self, environment: str) -> None:
        pass

    def remove_volume(self, volume: str) -> None:
        pass

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        raise AssertionError("nothing runs in a container here")

    def logs(self, container_id: str, tail: int = 20) -> str:
        return ""

    def start_task(
        self,
        desired: DesiredState,
        svc: ServiceDef,
        replica: int,
        release: str,
        secrets: SecretValues = NO_SECRETS,
    ) -> ActualTask:
        task = running(svc, replica, release)
        with self.lock:
            assert task.task not in self.tasks, f"{task.task} started while its name was in use"
            self.tasks[task.task] = task
        self.note(f"start {task.task}")
        return task

    def wait_ready(self, task: ActualTask, timeout: float, progress: object) -> None:
        if task.task in self.not_ready:
            raise TaskNotReady(f"{task.task} exited", container=task.task)
        self.hold_ready.get(task.service, lambda: None)()
        self.note(f"ready {task.task}")

    def check_task(self, task: ActualTask) -> None:
        pass

    def remove_task(self, task: ActualTask) -> None:
        self.note(f"stop {task.task}")
        self.hold.get(task.task, lambda: None)()
        with self.lock:
            self.tasks.pop(task.task, None)
        self.note(f"gone {task.task}")


def deploy(engine: Recording, want: DesiredState, events: list[Event] | None = None) -> None:
    actual = engine.actual()
    report = events.append if events is not None else lambda event: None
    apply(cast(Engine, engine), want, actual, plan(want, actual), "2", report)


def test_old_replicas_stop_while_the_next_batch_starts() -> None:
    v1, v2 = service("v1"), service("v2", watch=0)
    old = [running(v1, 1), running(v1, 2)]
    new = [running(v2, 1).task, running(v2, 2).task]
    engine = Recording(old)
    # The first old replica's removal ends only once the second batch has started.
    engine.hold[old[0].task] = lambda: engine.wait_for(f"start {new[1]}")
    deploy(engine, desired(v2))

    log = engine.log
    assert log.index(f"start {new[1]}") < log.index(f"gone {old[0].task}")
    # Still: ready before the old one of its slot goes, and that one before the next batch.
    assert log.index(f"ready {new[0]}") < log.index(f"stop {old[0].task}")
    assert log.index(f"stop {old[0].task}") < log.index(f"start {new[1]}")
    assert log.index(f"ready {new[1]}") < log.index(f"stop {old[1].task}")
    # The deploy returns once every old replica is gone.
    assert sorted(engine.tasks) == sorted(new)


def test_stop_first_old_replicas_are_gone_before_their_slots_start() -> None:
    port = [PortDef(name="http", port=8000, publish=18080)]
    container = ContainerDef(name="web", image="sha256:web", ports=port)
    v1 = service("v1").model_copy(update={"task": TaskDef(containers=[container])})
    v2 = v1.model_copy(update={"task": TaskDef(containers=[container], restart="always")})
    old = [running(v1, 1), running(v1, 2)]
    engine = Recording(old)
    deploy(engine, desired(v2))
    log = engine.log
    for slot, previous in enumerate(old, 1):
        assert log.index(f"gone {previous.task}") < log.index(f"start {running(v2, slot).task}")


def test_a_failed_batch_puts_back_the_replicas_it_replaced_once_they_are_gone() -> None:
    v1, v2 = service("v1"), service("v2", watch=0)
    old = [running(v1, 1), running(v1, 2)]
    new = [running(v2, 1).task, running(v2, 2).task]
    engine = Recording(old)
    engine.not_ready.add(new[1])
    # The first old replica is still stopping when the second batch fails.
    engine.hold[old[0].task] = lambda: engine.wait_for(f"start {new[1]}")
    with pytest.raises(TaskNotReady):
        deploy(engine, desired(v2))

    log = engine.log
    # The replaced replica came back from its recorded definition, under its own
    # name, after its removal had ended; the new ones are gone.
    assert log.count(f"start {old[0].task}") == 1
    assert log.index(f"gone {old[0].task}") < log.index(f"start {old[0].task}")
    assert sorted(engine.tasks) == sorted(t.task for t in old)
    assert engine.tasks[old[0].task].release == "1"


def fake_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rollout's clock, which moves only when the rollout sleeps."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(rollout, "time", SimpleNamespace(monotonic=lambda: now[0], sleep=sleep))
    return now


def test_a_service_created_from_nothing_is_not_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    now = fake_clock(monkeypatch)
    engine = Recording([])
    events: list[Event] = []
    deploy(engine, desired(service("v1", watch=30)), events)
    assert len(engine.tasks) == 2
    assert now[0] == 0.0
    assert not [e for e in events if e.message.startswith("watching")]


def test_a_replaced_service_is_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    now = fake_clock(monkeypatch)
    v1 = service("v1")
    engine = Recording([running(v1, 1), running(v1, 2)])
    events: list[Event] = []
    deploy(engine, desired(service("v2", watch=30)), events)
    assert now[0] >= 30
    assert [e.message for e in events if e.message.startswith("watching")] == [
        "watching web's new replicas for 30s"
    ]


def named(name: str, *depends_on: str) -> ServiceDef:
    task = TaskDef(containers=[ContainerDef(name=name, image="sha256:x")])
    return ServiceDef(name=name, task=task, depends_on=list(depends_on))


def test_a_service_waits_only_for_the_services_it_depends_on() -> None:
    services = [
        named("db"),
        named("cache"),
        named("api", "db"),
        named("worker", "api"),
        named("web", "api", "cache"),
    ]
    first = {s.name: running(s, 1).task for s in services}
    engine = Recording([])
    # cache becomes ready only once api has started: api does not wait for it.
    engine.hold_ready["cache"] = lambda: engine.wait_for(f"start {first['api']}")
    deploy(engine, desired(*services))

    log = engine.log
    assert log.index(f"start {first['api']}") < log.index(f"ready {first['cache']}")
    assert log.index(f"ready {first['db']}") < log.index(f"start {first['api']}")
    for later, before in [("worker", "api"), ("web", "api"), ("web", "cache")]:
        assert log.index(f"ready {first[before]}") < log.index(f"start {first[later]}")


def test_unchanged_dependencies_hold_nothing_back() -> None:
    db, api = named("db"), named("api", "db")
    engine = Recording([running(db, 1)])  # db runs as desired: only api changes
    deploy(engine, desired(db, api))
    assert engine.log == [f"start {running(api, 1).task}", f"ready {running(api, 1).task}"]


def test_after_a_failure_no_other_service_starts() -> None:
    db, api = named("db"), named("api", "db")
    engine = Recording([])
    engine.not_ready.add(running(db, 1).task)
    with pytest.raises(TaskNotReady):
        deploy(engine, desired(db, api))
    assert not [line for line in engine.log if "-api-" in line]
