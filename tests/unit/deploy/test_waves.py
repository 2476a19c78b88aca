"""Dependency waves: what a deploy may start at the same time."""

from __future__ import annotations

from dockyard.deploy.apply import _waves
from dockyard.plan.model import ContainerDef, DesiredState, ServiceDef, Step, TaskDef


def _svc(name: str, *deps: str) -> ServiceDef:
    task = TaskDef(containers=[ContainerDef(name=name, image="sha256:x")])
    return ServiceDef(name=name, task=task, depends_on=list(deps))


def _step(name: str) -> Step:
    return Step(action="create", target="service", name=name)


def test_services_wait_only_for_their_dependencies() -> None:
    desired = DesiredState(
        environment="t",
        network="n",
        services=[
            _svc("db"),
            _svc("cache"),
            _svc("api", "db"),
            _svc("worker", "api"),
            _svc("web", "api", "cache"),
        ],
    )
    steps = [_step(s.name) for s in desired.services]
    waves = [[s.name for s in wave] for wave in _waves(steps, desired)]
    assert waves == [["db", "cache"], ["api"], ["worker", "web"]]


def test_unchanged_dependencies_do_not_hold_a_wave_back() -> None:
    desired = DesiredState(environment="t", network="n", services=[_svc("db"), _svc("api", "db")])
    # db is already up to date: api is the only step, in api's own wave.
    assert [[s.name for s in w] for w in _waves([_step("api")], desired)] == [["api"]]
