"""``down``: which tasks stop at the same time, and in what order the groups go.

A fake engine stands in for Docker here (tests/engine/test_down.py stops real
containers that ignore SIGTERM).
"""

from __future__ import annotations

import itertools
import threading
from typing import cast

from dockyard.deploy.ops import down
from dockyard.engines.base import Platform
from dockyard.plan.model import ActualContainer, ActualState, ActualTask, ContainerDef, TaskDef

DEADLINE = 10.0


def task(
    service: str, replica: int = 1, kind: str = "service", joins: str | None = None
) -> ActualTask:
    name = f"e-{service}-{replica}-abc1234"
    main = ActualContainer(id=name, name=name, container=service, role="main", status="running")
    definition = TaskDef(containers=[ContainerDef(name=service, image="sha256:x")], joins=joins)
    return ActualTask.model_validate(
        {
            "task": name,
            "service": service,
            "kind": kind,
            "replica": replica,
            "spec_hash": "abc1234",
            "definition": definition,
            "containers": [main],
        }
    )


class Stopping:
    """Removes tasks as an engine would, noting when each removal began and ended.
    The removals of one group wait for each other: one after the other, they never meet."""

    def __init__(self, tasks: list[ActualTask], groups: list[list[str]]) -> None:
        self.tasks = tasks
        self.log: list[str] = []
        self.lock = threading.Lock()
        self.barriers: dict[str, threading.Barrier] = {}
        for group in groups:
            met = threading.Barrier(len(group), timeout=DEADLINE)
            self.barriers.update(dict.fromkeys(group, met))

    def observe(self, environment: str) -> ActualState:
        return ActualState(environment=environment, tasks=self.tasks)

    def remove_task(self, task: ActualTask) -> None:
        with self.lock:
            self.log.append(f"stop {task.service}")
        self.barriers[task.service].wait()
        with self.lock:
            self.log.append(f"gone {task.service}")

    def remove_oneoffs(self, environment: str, deploy_only: bool = False) -> list[str]:
        return []


def test_down_stops_each_group_together_services_first() -> None:
    holder = task("ingress-holder", kind="accessory")
    tasks = [
        task("db", kind="accessory"),
        holder,
        task("ingress", kind="accessory", joins=holder.task),
        task("api", 1),
        task("web", 1),
        task("worker", 1),
        task("supervisor", kind="accessory"),
    ]
    groups = [["api", "web", "worker", "supervisor"], ["db", "ingress"], ["ingress-holder"]]
    engine = Stopping(tasks, groups)
    removed = down(cast(Platform, engine), "e")

    assert len(removed.tasks) == len(tasks)
    # Every group's removals began before any of them ended, and the next group
    # began only once the one before had ended.
    position = {line: i for i, line in enumerate(engine.log)}
    for group in groups:
        assert max(position[f"stop {s}"] for s in group) < min(position[f"gone {s}"] for s in group)
    for before, after in itertools.pairwise(groups):
        assert max(position[f"gone {s}"] for s in before) < min(
            position[f"stop {s}"] for s in after
        )
