"""Changing the ingress itself under load, through a deploy: a new ingress image
replaces Caddy beside the old one in the holder's namespace; a Caddy that is
killed and started again resumes its routes; a new holder brings a new Caddy.

Two replicas of the test web server are proxied as ``web`` and
routed publicly; two load threads send requests to the holder's published port
on 127.0.0.1, each half on one keep-alive connection and half on new ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import docker
import pytest

from dockyard.deploy.apply import apply
from dockyard.deploy.observed import observe
from dockyard.deploy.planning import release_plan
from dockyard.discovery import (
    HOLDER_SERVICE,
    INGRESS_SERVICE,
    IngressClient,
    PublicRoute,
    holder_service,
    ingress_build,
    ingress_service,
)
from dockyard.engines.docker import DockerEngine
from dockyard.events import Event, silent
from dockyard.plan.diff import plan
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    ContainerDef,
    DesiredState,
    IngressDef,
    Plan,
    PortDef,
    ProxyDef,
)
from tests.fixtures.load import Load, served_since

from .support import BASE_IMAGE, TEST_RUN_LABEL, Run, free_port, service, web

pytestmark = [pytest.mark.engine, pytest.mark.fault]

PORT = 8000
PER_STEP = 200
"""Requests served before and after each change."""


@pytest.fixture(scope="module")
def ingress_images(engine: DockerEngine, suite_run: str) -> tuple[str, str]:
    """Two ingress images with different IDs (a label apart), as two Dockyard
    versions would build; removed by label at the end of the run."""
    tags = []
    for generation in ("1", "2"):
        request = dataclasses.replace(
            ingress_build(BASE_IMAGE),
            tag=f"dockyard-test/ingress:{suite_run}-{generation}",
            labels={TEST_RUN_LABEL: suite_run, "dockyard-test.generation": generation},
        )
        engine.build(request, lambda line: None)
        tags.append(request.tag)
    return tags[0], tags[1]


@dataclasses.dataclass
class Shop:
    engine: DockerEngine
    run: Run
    web_image: str
    holder_image: str
    public_port: int

    def desired(self, image: str, *, also: tuple[str, ...] = ()) -> DesiredState:
        """The environment with Caddy from ``image``; ``also`` names more proxied
        services (with no replica: the holder's aliases change)."""
        proxied = {"web": [PORT], **{name: [PORT] for name in also}}
        holder = holder_service(
            self.run.environment, self.holder_image, self.public_port, "127.0.0.1", proxied
        )
        caddy = ingress_service(self.run.environment, image, holder)
        replicas = service(
            "web",
            web(self.web_image),
            aliases=[],
            replicas=2,
            depends_on=[INGRESS_SERVICE],
            drain=5.0,
        )
        ingress = IngressDef(
            service=INGRESS_SERVICE,
            proxied=[
                ProxyDef(
                    service=name,
                    ports=ports,
                    health_path="/healthz",
                    health_port=PORT,
                    health_interval=0.5,
                    health_timeout=2.0,
                )
                for name, ports in proxied.items()
            ],
            routes=[PublicRoute(service="web", port=PORT)],
        )
        desired = self.run.desired(holder, caddy, replicas)
        return desired.model_copy(update={"ingress": ingress})

    def plan(self, desired: DesiredState) -> tuple[ActualState, Plan]:
        """What runs, and the plan to ``desired`` as a release makes it (with the
        ingress's own rules)."""
        observed = observe(self.engine, self.run.environment)
        return observed.actual, release_plan(desired, observed)

    def converge(
        self, desired: DesiredState, release: str, report: Callable[[Event], None] = silent
    ) -> None:
        """Plan as a release does and apply."""
        actual, steps = self.plan(desired)
        apply(self.engine, desired, actual, steps, release, report)

    def only(self, service: str) -> ActualTask:
        (task,) = self.engine.observe(self.run.environment).tasks_of(service)
        return task

    def in_step(self, desired: DesiredState) -> bool:
        return self.plan(desired)[1].empty


@pytest.fixture
def shop(
    engine: DockerEngine, test_run: Run, web_image: str, ingress_images: tuple[str, str]
) -> Iterator[Shop]:
    shop = Shop(engine, test_run, web_image, ingress_images[0], free_port())
    shop.converge(shop.desired(ingress_images[0]), "r1")
    yield shop


def loads(port: int) -> tuple[Load, Load]:
    """Two load threads; each keeps who answered ("hello from <container id>")."""
    return Load(port, parse=str.strip), Load(port, parse=str.strip)


def summary(first: Load, second: Load) -> tuple[int, list[str]]:
    return first.served + second.served, [str(f) for f in first.failures + second.failures]


def test_a_new_ingress_image_replaces_caddy_beside_the_old_one_and_loses_no_request(
    shop: Shop, ingress_images: tuple[str, str], client: docker.DockerClient
) -> None:
    holder, old = shop.only(HOLDER_SERVICE), shop.only(INGRESS_SERVICE)
    upgraded = shop.desired(ingress_images[1])
    actual = shop.engine.observe(shop.run.environment)
    steps = plan(upgraded, actual)
    assert [(s.name, s.action) for s in steps.changes] == [(INGRESS_SERVICE, "replace")]

    first, second = loads(shop.public_port)
    with first, second:
        assert len(set(served_since(first, 0, PER_STEP))) == 2  # both replicas
        apply(shop.engine, upgraded, actual, steps, "r2")
        served_since(first, first.served, PER_STEP)
        served_since(second, second.served, PER_STEP)
    served, failures = summary(first, second)

    print(f"\ningress image upgrade under load: served {served}, failed {len(failures)}")
    assert failures == []
    new = shop.only(INGRESS_SERVICE)
    assert new.task != old.task and new.definition is not None
    assert new.definition.main.image == ingress_images[1]
    assert shop.only(HOLDER_SERVICE).containers == holder.containers  # the same, untouched
    assert old.main is not None and not client.containers.list(
        all=True, filters={"id": old.main.id}
    )
    assert shop.in_step(upgraded)  # the new Caddy runs the routes; nothing left to do


def test_a_killed_caddy_started_again_resumes_its_routes(
    shop: Shop, ingress_images: tuple[str, str], client: docker.DockerClient
) -> None:
    caddy = shop.only(INGRESS_SERVICE)
    assert caddy.main is not None
    container = client.containers.get(caddy.main.id)

    first, second = loads(shop.public_port)
    with first, second:
        served_since(first, 0, PER_STEP)
        container.kill()
        container.start()  # what a supervisor would do; Dockyard is not involved
        mark = first.served
        served_since(first, mark, PER_STEP)
        served_since(second, second.served, PER_STEP)
    served, failures = summary(first, second)

    print(f"\nCaddy killed and started again: served {served}, failed {len(failures)}")
    assert len(set(first.bodies[mark:])) == 2
    assert shop.in_step(shop.desired(ingress_images[0]))  # resumed: no config loaded


def test_a_changed_holder_brings_a_new_caddy_and_the_environment_converges(
    shop: Shop, ingress_images: tuple[str, str]
) -> None:
    holder, caddy = shop.only(HOLDER_SERVICE), shop.only(INGRESS_SERVICE)
    changed = shop.desired(ingress_images[0], also=("api",))  # one more alias
    actual, steps = shop.plan(changed)
    assert [(s.name, s.action) for s in steps.changes] == [
        (HOLDER_SERVICE, "replace"),
        (INGRESS_SERVICE, "replace"),
    ]

    first, second = loads(shop.public_port)
    with first, second:
        served_since(first, 0, PER_STEP)
        apply(shop.engine, changed, actual, steps, "r2")
        mark = first.served
        served_since(first, mark, PER_STEP)
    served, failures = summary(first, second)

    print(f"\nholder replaced (aliases changed): served {served}, failed {len(failures)}")
    assert len(set(first.bodies[mark:])) == 2
    assert shop.only(HOLDER_SERVICE).task != holder.task
    assert shop.only(INGRESS_SERVICE).task != caddy.task
    assert shop.in_step(changed)
    new = shop.only(INGRESS_SERVICE)
    assert new.main is not None
    assert IngressClient(shop.engine, new.main.id).upstreams()


def test_a_caddy_left_in_a_restarted_holders_old_namespace_is_replaced(
    shop: Shop, ingress_images: tuple[str, str], client: docker.DockerClient
) -> None:
    desired = shop.desired(ingress_images[0])
    holder, caddy = shop.only(HOLDER_SERVICE), shop.only(INGRESS_SERVICE)
    assert holder.main is not None
    client.containers.get(holder.main.id).restart(timeout=1)  # a new, empty namespace

    actual, steps = shop.plan(desired)
    (step,) = steps.changes
    assert (step.name, step.action, step.replace) == (INGRESS_SERVICE, "replace", [caddy.task])
    assert step.reason is not None and "namespace" in step.reason

    apply(shop.engine, desired, actual, steps, "r2")
    with Load(shop.public_port, parse=str.strip) as load:
        assert len(set(served_since(load, 0, PER_STEP))) == 2
    assert load.failures == []
    assert shop.in_step(desired)


def test_a_deploy_stopped_mid_upgrade_is_finished_without_losing_a_request(
    shop: Shop, ingress_images: tuple[str, str]
) -> None:
    """What a deploy killed between starting the new Caddy and loading its routes
    leaves: two Caddys, the new one (of the definition to keep) without routes.
    The next deploy gives it the routes before it stops the old one."""
    old = shop.only(INGRESS_SERVICE)
    upgraded = shop.desired(ingress_images[1])
    caddy = upgraded.service(INGRESS_SERVICE)
    new = shop.engine.start_task(upgraded, caddy, 1, "r2")
    shop.engine.wait_ready(new, 30, lambda line: None)
    assert new.main is not None
    assert "apps" not in IngressClient(shop.engine, new.main.id).config()  # no routes

    actual, steps = shop.plan(upgraded)
    (step,) = steps.changes
    assert (step.name, step.stop) == (INGRESS_SERVICE, [old.task])
    first, second = loads(shop.public_port)
    with first, second:
        served_since(first, 0, PER_STEP)
        apply(shop.engine, upgraded, actual, steps, "r3")
        served_since(first, first.served, PER_STEP)
        served_since(second, second.served, PER_STEP)
    served, failures = summary(first, second)

    print(f"\nan upgrade finished by the next deploy: served {served}, failed {len(failures)}")
    assert failures == []
    assert shop.only(INGRESS_SERVICE).task == new.task
    assert shop.in_step(upgraded)


def test_an_ingress_of_one_container_is_replaced_by_holder_and_caddy(
    engine: DockerEngine, test_run: Run, web_image: str, ingress_images: tuple[str, str]
) -> None:
    """What Dockyard ran before the split: one ingress container that publishes
    the port and holds the names. The holder cannot publish the port beside it,
    so it goes first."""
    shop = Shop(engine, test_run, web_image, ingress_images[0], free_port())
    single = service(
        INGRESS_SERVICE,
        ContainerDef(
            name="caddy",
            image=ingress_images[0],
            ports=[PortDef(name="http", port=80, publish=shop.public_port)],
        ),
        kind="accessory",
        aliases=["web"],
    )
    before = test_run.desired(single)
    engine.ensure_network(before)
    engine.wait_ready(engine.start_task(before, single, 1, "r0"), 30, lambda line: None)

    desired = shop.desired(ingress_images[0])
    shop.converge(desired, "r1")

    with Load(shop.public_port, parse=str.strip) as load:
        assert len(set(served_since(load, 0, PER_STEP))) == 2
    assert load.failures == []
    assert shop.only(INGRESS_SERVICE).definition == desired.service(INGRESS_SERVICE).task
    assert shop.in_step(desired)
