"""Which steps a deploy takes for the ingress's two parts: Caddy follows its holder.

A scripted ``exec`` stands in for the engine where the planner asks each
container for its network namespace (tests/engine/test_ingress_upgrade.py runs
the real thing).
"""

from __future__ import annotations

from typing import cast

from dockyard.deploy.route_steps import with_routes
from dockyard.deploy.routing import IngressEngine
from dockyard.plan.diff import plan
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE, holder_service, ingress_service
from dockyard.plan.model import (
    ActualContainer,
    ActualState,
    ActualTask,
    ContainerDef,
    DesiredState,
    IngressDef,
    PortDef,
    ProxyDef,
    ServiceDef,
    TaskDef,
    task_name,
)

ENV = "e"


class Namespaces:
    """Answers the namespace question with ``spaces[container id]``."""

    def __init__(self, spaces: dict[str, str]) -> None:
        self.spaces = spaces
        self.asked: list[str] = []

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        assert "/proc/1/ns/net" in argv[-1]
        self.asked.append(container_id)
        return 0, self.spaces[container_id] + "\n"


def desired() -> DesiredState:
    holder = holder_service(ENV, "img", 8080, proxied={"web": [8000]})
    caddy = ingress_service(ENV, "caddy-img", holder)
    ingress = IngressDef(proxied=[ProxyDef(service="web", ports=[8000])])
    return DesiredState(
        environment=ENV, network=f"dockyard-{ENV}", services=[holder, caddy], ingress=ingress
    )


def running(service: ServiceDef, container_id: str, status: str = "running") -> ActualTask:
    name = task_name(ENV, service.name, 1, service.task.spec_hash())
    main = ActualContainer(
        id=container_id, name=name, container=service.task.main.name, role="main", status=status
    )
    return ActualTask(
        task=name,
        service=service.name,
        kind="accessory",
        replica=1,
        spec_hash=service.task.spec_hash(),
        definition=service.task,
        containers=[main],
    )


def actual(want: DesiredState, holder_status: str = "running") -> ActualState:
    holder, caddy = want.service(HOLDER_SERVICE), want.service(INGRESS_SERVICE)
    return ActualState(
        environment=ENV,
        network=want.network,
        tasks=[running(holder, "h1", holder_status), running(caddy, "c1")],
    )


def steps_of(want: DesiredState, now: ActualState, engine: Namespaces) -> dict[str, str]:
    steps = with_routes(cast(IngressEngine, engine), want, now, plan(want, now))
    return {s.name: s.action for s in steps.steps if s.target == "accessory"}


def test_a_holder_started_again_brings_a_new_caddy_in_the_same_deploy() -> None:
    want = desired()
    now = actual(want, holder_status="exited")
    engine = Namespaces({})

    steps = with_routes(cast(IngressEngine, engine), want, now, plan(want, now))

    caddy = next(s for s in steps.steps if s.name == INGRESS_SERVICE)
    assert steps_of(want, now, engine) == {HOLDER_SERVICE: "replace", INGRESS_SERVICE: "replace"}
    assert caddy.replace == [now.tasks_of(INGRESS_SERVICE)[0].task]
    assert caddy.reason is not None and "holder is replaced" in caddy.reason
    assert engine.asked == []  # the holder's step says it all


def test_a_caddy_in_another_namespace_than_its_holder_is_replaced() -> None:
    want = desired()
    now = actual(want)
    engine = Namespaces({"h1": "net:[4026532801]", "c1": "net:[4026532655]"})

    steps = with_routes(cast(IngressEngine, engine), want, now, plan(want, now))

    assert steps_of(want, now, engine) == {HOLDER_SERVICE: "noop", INGRESS_SERVICE: "replace"}
    caddy = next(s for s in steps.steps if s.name == INGRESS_SERVICE)
    assert caddy.reason is not None and "namespace" in caddy.reason
    assert sorted(set(engine.asked)) == ["c1", "h1"]


def test_a_new_ingress_image_replaces_caddy_alone() -> None:
    want = desired()
    now = actual(want)
    holder = want.service(HOLDER_SERVICE)
    upgraded = want.model_copy(
        update={"services": [holder, ingress_service(ENV, "caddy-img-2", holder)]}
    )
    engine = Namespaces({"h1": "net:[1]", "c1": "net:[1]"})

    assert steps_of(upgraded, now, engine) == {HOLDER_SERVICE: "noop", INGRESS_SERVICE: "replace"}


def test_an_ingress_of_one_container_makes_way_for_the_holder_first() -> None:
    want = desired()
    single = ServiceDef.model_validate(
        {
            "name": INGRESS_SERVICE,
            "kind": "accessory",
            "task": TaskDef(
                containers=[
                    ContainerDef(
                        name="caddy",
                        image="old",
                        ports=[PortDef(name="http", port=80, publish=8080)],
                    )
                ],
                aliases=["web"],
            ),
        }
    )
    now = ActualState(environment=ENV, network=want.network, tasks=[running(single, "c0")])

    steps = with_routes(cast(IngressEngine, Namespaces({})), want, now, plan(want, now))

    holder = next(s for s in steps.steps if s.name == HOLDER_SERVICE)
    caddy = next(s for s in steps.steps if s.name == INGRESS_SERVICE)
    old = now.tasks[0].task
    # The holder's rollout is stop-first (it publishes the port): the old ingress
    # goes, then the holder starts in its slot; then Caddy starts in the holder.
    assert (holder.action, holder.start, holder.replace) == ("replace", [], [old])
    assert (caddy.action, caddy.replace) == ("replace", [old])
