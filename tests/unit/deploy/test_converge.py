"""The orchestrator goes through the converger seam, never through replicas.

``MemoryCluster`` is a test double: an in-memory engine that rolls services out
itself, as a cluster engine would (Swarm's ``service update``). No container
runs; it keeps each service's definition and reports one task per replica slot.
It has no replica operations at all, so a deploy that used one would fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dockyard.deploy.apply import apply, converger_for
from dockyard.deploy.batches import Batches
from dockyard.engines.capabilities import capabilities
from dockyard.engines.converge import Converger, Deployment, ServiceRollout
from dockyard.engines.docker import DockerEngine
from dockyard.engines.errors import EngineUnsupported
from dockyard.errors import DeployError
from dockyard.events import silent
from dockyard.plan import plan
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    ContainerDef,
    DesiredState,
    IngressDef,
    ProxyDef,
    ServiceDef,
    Step,
    TaskDef,
)
from tests.unit.plan.states import running

ENV = "mem"


@dataclass
class MemoryCluster:
    """A test double of a cluster engine: services converge in memory, at once."""

    name: str = "memory"
    services: dict[str, ServiceDef] = field(default_factory=dict)
    network: str | None = None
    volumes: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)  # services whose rollout fails

    def observe(self, environment: str) -> ActualState:
        tasks = [
            _task(environment, service, slot)
            for service in self.services.values()
            for slot in range(1, service.replicas + 1)
        ]
        return ActualState(
            environment=environment, network=self.network, volumes=self.volumes, tasks=tasks
        )

    def ensure_network(self, desired: DesiredState) -> None:
        self.network = desired.network

    def ensure_volume(self, desired: DesiredState, volume: str) -> None:
        self.volumes.append(volume)

    def remove_task(self, task: ActualTask) -> None:
        self.calls.append(f"remove {task.service}")  # the task's service, as a cluster does
        self.services.pop(task.service, None)

    def remove_network(self, environment: str) -> None:
        self.network = None

    def remove_volume(self, volume: str) -> None:
        self.volumes.remove(volume)

    def converger(self, deployment: Deployment) -> Converger:
        return MemoryConverger(self, deployment)


@dataclass
class MemoryConverger:
    cluster: MemoryCluster
    deployment: Deployment

    def rollout(self, service: ServiceDef) -> ServiceRollout:
        return MemoryRollout(self, service)

    def remove(self, step: Step) -> None:
        self.cluster.calls.append(f"remove {step.name}")
        del self.cluster.services[step.name]
        self.deployment.result.removed += step.stop

    def settle(self) -> None:
        self.cluster.calls.append("settle")


@dataclass
class MemoryRollout:
    converger: MemoryConverger
    service: ServiceDef

    def run(self, step: Step) -> None:
        cluster, name = self.converger.cluster, self.service.name
        cluster.calls.append(f"update {name}")
        if name in cluster.failing:  # a native rollback leaves the old definition
            raise DeployError(f"service {name} rolled back: its tasks did not become healthy")
        cluster.services[name] = self.service
        environment = self.converger.deployment.desired.environment
        started = [_task(environment, self.service, slot).task for slot in step.start]
        self.converger.deployment.result.started += started

    def watch(self) -> None:
        self.converger.cluster.calls.append(f"watch {self.service.name}")

    def settle(self) -> None:
        pass  # a cluster's rollout leaves nothing going on


def _task(environment: str, service: ServiceDef, slot: int) -> ActualTask:
    return running(service, slot, environment=environment)


def _service(name: str, image: str = "sha256:v1", *deps: str, replicas: int = 1) -> ServiceDef:
    task = TaskDef(containers=[ContainerDef(name=name, image=image)])
    return ServiceDef(name=name, task=task, replicas=replicas, depends_on=list(deps))


def _desired(*services: ServiceDef) -> DesiredState:
    return DesiredState(
        environment=ENV,
        network=f"dockyard-{ENV}",
        volumes=[f"dockyard-{ENV}-data"],
        services=list(services),
        # Dockyard's own ingress routing would reach into a container; this engine
        # offers no container access, so it must not be asked.
        ingress=IngressDef(proxied=[ProxyDef(service="api", ports=[8000])]),
    )


def _deploy(engine: MemoryCluster, desired: DesiredState, release: str) -> list[str]:
    actual = engine.observe(ENV)
    return apply(engine, desired, actual, plan(desired, actual), release).started


def test_the_double_rolls_services_itself_and_has_no_replica_operations() -> None:
    engine = MemoryCluster()
    assert "services" in capabilities(engine)
    assert "replicas" not in capabilities(engine)
    assert "container access" not in capabilities(engine)
    assert not hasattr(engine, "start_task")


def test_apply_converges_every_service_through_the_seam() -> None:
    engine = MemoryCluster()
    desired = _desired(_service("db"), _service("api", "sha256:v1", "db", replicas=2))

    started = _deploy(engine, desired, "1")

    assert engine.network == desired.network and engine.volumes == desired.volumes
    assert engine.calls == ["update db", "update api", "watch db", "watch api", "settle"]
    assert started == [t.task for t in engine.observe(ENV).tasks if t.service in ("db", "api")]
    assert plan(desired, engine.observe(ENV)).empty


def test_a_new_definition_and_a_removed_service_go_through_the_seam() -> None:
    engine = MemoryCluster()
    _deploy(engine, _desired(_service("db"), _service("api")), "1")
    engine.calls.clear()

    desired = _desired(_service("api", "sha256:v2"))
    actual = engine.observe(ENV)
    steps = plan(desired, actual)
    result = apply(engine, desired, actual, steps, "2")

    assert engine.calls == ["update api", "watch api", "remove db", "settle"]
    assert result.removed == [t.task for t in actual.tasks_of("db")]
    assert engine.services["api"].task.main.image == "sha256:v2"
    assert plan(desired, engine.observe(ENV)).empty


def test_a_failed_rollout_stops_the_deploy_before_the_next_wave() -> None:
    engine = MemoryCluster(failing={"db"})
    desired = _desired(_service("db"), _service("api", "sha256:v1", "db"))

    with pytest.raises(DeployError, match="rolled back"):
        _deploy(engine, desired, "1")

    assert engine.calls == ["update db"]
    assert engine.services == {}


@dataclass
class NetworksOnly:
    """A test double of an engine that neither rolls services nor runs replicas."""

    name: str = "bare"

    def observe(self, environment: str) -> ActualState:
        return ActualState(environment=environment)

    def ensure_network(self, desired: DesiredState) -> None: ...

    def ensure_volume(self, desired: DesiredState, volume: str) -> None: ...

    def remove_task(self, task: ActualTask) -> None: ...

    def remove_network(self, environment: str) -> None: ...

    def remove_volume(self, volume: str) -> None: ...


def test_an_engine_that_cannot_roll_services_says_so_before_anything_changes() -> None:
    desired = _desired(_service("api"))
    engine = NetworksOnly()
    actual = engine.observe(ENV)

    with pytest.raises(EngineUnsupported) as raised:
        apply(engine, desired, actual, plan(desired, actual), "1")

    error = raised.value
    assert error.code == "DY302" and error.capability == "services"
    assert error.hint and "engine.kind: docker" in error.hint
    assert str(error) == "the bare engine cannot roll services out itself (it can: environments)"


def test_an_engine_with_replica_operations_is_rolled_by_dockyard() -> None:
    desired = _desired(_service("api"))
    deployment = Deployment(desired, ActualState(environment=ENV), "1", silent, lambda: None)
    engine = DockerEngine(host="tcp://127.0.0.1:1")  # not contacted: nothing runs yet
    assert isinstance(converger_for(engine, deployment), Batches)
    assert isinstance(converger_for(MemoryCluster(), deployment), MemoryConverger)
