"""A release's whole plan as data: desired state, what runs, what the ingress
routes and the task runs so far → every step, the routes and the tasks included."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pytest

from dockyard.deploy.observed import CaddySeen, IngressSeen, Observed
from dockyard.deploy.planning import release_plan
from dockyard.deploy.tasks import TaskHistory, image_key, task_key
from dockyard.discovery.caddy import ProxiedService, RoutingTable, caddy_config
from dockyard.discovery.ingress import IngressError
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE, holder_service, ingress_service
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    ContainerDef,
    DesiredState,
    IngressDef,
    PortDef,
    ProxyDef,
    PublicRoute,
    ServiceDef,
    TaskDef,
)
from dockyard.state import TaskRun
from tests.unit.plan.states import release_tasks, running

ENV = "t"
NETWORK = f"dockyard-{ENV}"


def web(image: str = "sha256:web1") -> ServiceDef:
    """A proxied service with a migration and a smoke test."""
    main = ContainerDef(name="web", image=image, ports=[PortDef(name="http", port=8000)])
    return ServiceDef(
        name="web",
        task=TaskDef(containers=[main], aliases=[]),
        replicas=2,
        depends_on=[INGRESS_SERVICE],
        tasks=release_tasks("web", main),
    )


WEB, WEB_2 = web(), web("sha256:web2")
WORKER = ServiceDef(
    name="worker", task=TaskDef(containers=[ContainerDef(name="worker", image="sha256:w")])
)
HOLDER = holder_service(ENV, "sha256:holder", 8080, proxied={"web": [8000]})
CADDY = ingress_service(ENV, "dockyard/ingress:1", HOLDER)
INGRESS = IngressDef(
    proxied=[ProxyDef(service="web", ports=[8000])],
    routes=[PublicRoute(service="web", port=8000)],
)
SINGLE = ServiceDef(  # the ingress of one container that Dockyard ran before the split
    name=INGRESS_SERVICE,
    kind="accessory",
    task=TaskDef(
        containers=[
            ContainerDef(
                name="caddy", image="old", ports=[PortDef(name="http", port=80, publish=8080)]
            )
        ],
        aliases=["web"],
    ),
)


def desired(*services: ServiceDef, ingress: bool = True) -> DesiredState:
    return DesiredState(
        environment=ENV,
        network=NETWORK,
        services=list(services),
        ingress=INGRESS if ingress else None,
    )


def actual(*tasks: ActualTask) -> ActualState:
    return ActualState(environment=ENV, network=NETWORK, tasks=list(tasks))


STEADY = actual(running(HOLDER), running(CADDY), running(WEB, 1), running(WEB, 2))
"""Everything runs as ``desired(HOLDER, CADDY, WEB)`` says."""


def succeeded(task: str, release: int) -> TaskHistory:
    """A history in which ``task`` of web succeeded on WEB's image in ``release``."""
    oneoff = WEB.task_named(task)
    assert oneoff is not None
    run = TaskRun(
        id=1,
        env=ENV,
        release=release,
        service="web",
        task=task,
        command=tuple(oneoff.container.command or []),
        digest=image_key(oneoff.container.image),
        definition_hash=oneoff.definition_hash(),
        status="succeeded",
        exit_code=0,
        started_at=datetime(2024, 1, 1, tzinfo=UTC),
        duration=1.0,
        log_tail="",
    )
    return TaskHistory({task_key(oneoff): run})


MIGRATED = succeeded("migrate", 3)

Routes = Literal["in step", "stale", "silent"]
"""How the running Caddy answers: with the config what runs calls for, with one
that has no replica in rotation, or not at all (it is starting)."""


def loaded(routes: Routes, now: ActualState) -> CaddySeen:
    """What Caddy answers when asked for the config it runs."""
    if routes == "silent":
        return CaddySeen(None)
    ready = [] if routes == "stale" else [t for t in now.tasks_of("web") if t.healthy]
    table = RoutingTable(
        services=[
            ProxiedService(name="web", upstreams={8000: sorted(f"{t.task}:8000" for t in ready)})
        ],
        routes=list(INGRESS.routes),
    )
    return CaddySeen(caddy_config(table))


def observed(now: ActualState, routes: Routes | CaddySeen, cut_off: bool = False) -> Observed:
    seen = routes if isinstance(routes, CaddySeen) else loaded(routes, now)
    caddys = {t.task: seen for t in now.tasks_of(INGRESS_SERVICE) if t.running}
    return Observed(now, IngressSeen(caddys=caddys, cut_off=cut_off))


@dataclass
class Case:
    id: str
    desired: DesiredState
    actual: ActualState
    routes: Routes
    history: TaskHistory | None
    steps: list[tuple[str, str, str]]  # (action, target, name) of every change, in order
    tasks: list[tuple[str, bool, str]] = field(default_factory=list)  # (task, run, reason)
    reasons: dict[str, str] = field(default_factory=dict)  # step name → its reason
    only: set[str] | None = None
    cut_off: bool = False
    rerun: bool = False


SKIPPED = ("migrate", False, "succeeded with this image in release #3")
NEW = ("migrate", True, "new image or task definition")
SMOKE = ("smoke", True, "after every rollout")
NO_SMOKE = ("smoke", False, "nothing changes")
ROUTES = ("replace", "routes", INGRESS_SERVICE)
OTHERWISE = "the ingress routes otherwise than the spec and the healthy replicas say"

CASES = [
    Case(
        "everything in step: nothing to do, the migration that ran is skipped",
        desired(HOLDER, CADDY, WEB),
        STEADY,
        "in step",
        MIGRATED,
        [],
        [SKIPPED, NO_SMOKE],
    ),
    Case(
        "the ingress routes otherwise: the routes are loaded and the smoke test runs",
        desired(HOLDER, CADDY, WEB),
        STEADY,
        "stale",
        MIGRATED,
        [ROUTES],
        [SKIPPED, SMOKE],
        {INGRESS_SERVICE: OTHERWISE},
    ),
    Case(
        "an ingress that does not answer yet gets the routes loaded",
        desired(HOLDER, CADDY, WEB),
        STEADY,
        "silent",
        MIGRATED,
        [ROUTES],
        [SKIPPED, SMOKE],
    ),
    Case(
        "a new image: web is replaced, the routes come with it, both tasks run",
        desired(HOLDER, CADDY, WEB_2),
        STEADY,
        "stale",
        MIGRATED,
        [("replace", "service", "web")],
        [NEW, SMOKE],
        {"web": "definition changed"},
    ),
    Case(
        "a replica that exited is replaced; the migration stays done",
        desired(HOLDER, CADDY, WEB),
        actual(running(HOLDER), running(CADDY), running(WEB, 1), running(WEB, 2, status="exited")),
        "in step",
        MIGRATED,
        [("replace", "service", "web")],
        [SKIPPED, SMOKE],
        {"web": "web exited"},
    ),
    Case(
        "a rerun asked for runs the migration, and the smoke test after it",
        desired(HOLDER, CADDY, WEB),
        STEADY,
        "in step",
        MIGRATED,
        [],
        [("migrate", True, "rerun asked for"), SMOKE],
        rerun=True,
    ),
    Case(
        "a migration never run on this image runs though nothing else changes",
        desired(HOLDER, CADDY, WEB),
        STEADY,
        "in step",
        TaskHistory(),
        [],
        [NEW, SMOKE],
    ),
    Case(
        "without a task history (a rollback) no task is planned",
        desired(HOLDER, CADDY, WEB_2),
        STEADY,
        "in step",
        None,
        [("replace", "service", "web")],
    ),
    Case(
        "a holder that exited is replaced, and Caddy with it",
        desired(HOLDER, CADDY, WEB),
        actual(running(HOLDER, status="exited"), running(CADDY), running(WEB, 1), running(WEB, 2)),
        "in step",
        MIGRATED,
        [("replace", "accessory", HOLDER_SERVICE), ("replace", "accessory", INGRESS_SERVICE)],
        [SKIPPED, SMOKE],
        {INGRESS_SERVICE: "its holder is replaced: a new Caddy joins the new namespace"},
    ),
    Case(
        "a Caddy left in a restarted holder's old namespace is replaced",
        desired(HOLDER, CADDY, WEB),
        STEADY,
        "in step",
        MIGRATED,
        [("replace", "accessory", INGRESS_SERVICE)],
        [SKIPPED, SMOKE],
        {INGRESS_SERVICE: "its holder restarted after it: Caddy is in a namespace of its own"},
        cut_off=True,
    ),
    Case(
        "an ingress of one container makes way for the holder, then Caddy",
        desired(HOLDER, CADDY, WEB),
        actual(running(SINGLE), running(WEB, 1), running(WEB, 2)),
        "in step",
        MIGRATED,
        [("replace", "accessory", HOLDER_SERVICE), ("replace", "accessory", INGRESS_SERVICE)],
        [SKIPPED, SMOKE],
        {HOLDER_SERVICE: "the ingress of one container gives its port and names to a holder"},
    ),
    Case(
        "a deploy of a part the ingress does not proxy leaves the rest alone",
        desired(WORKER, ingress=False),
        STEADY,
        "stale",
        MIGRATED,
        [("create", "service", "worker")],
        only={"worker"},
    ),
    Case(
        "a deploy of web alone brings the ingress along and plans web's tasks",
        desired(HOLDER, CADDY, WEB),
        actual(running(HOLDER), running(CADDY), running(WEB, 1), running(WEB, 2), running(WORKER)),
        "stale",
        MIGRATED,
        [ROUTES],
        [SKIPPED, SMOKE],
        only={"web"},
    ),
    Case(
        "a service gone from the environment is removed, the ingress kept",
        desired(HOLDER, CADDY, WEB),
        actual(running(HOLDER), running(CADDY), running(WEB, 1), running(WEB, 2), running(WORKER)),
        "in step",
        MIGRATED,
        [("remove", "service", "worker")],
        [SKIPPED, SMOKE],
    ),
    Case(
        "an environment without an ingress gets no routes step",
        desired(WORKER, ingress=False),
        actual(running(WORKER)),
        "stale",
        None,
        [],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_release_plan(case: Case) -> None:
    result = release_plan(
        case.desired,
        observed(case.actual, case.routes, case.cut_off),
        case.only,
        case.history,
        rerun_tasks=case.rerun,
    )
    assert [(s.action, s.target, s.name) for s in result.changes] == case.steps
    assert [(t.task, t.run, t.reason) for t in result.tasks] == case.tasks
    for name, reason in case.reasons.items():
        assert next(s for s in result.changes if s.name == name).reason == reason
    assert result.empty == (not case.steps and not any(run for _, run, _ in case.tasks))


def test_an_ingress_whose_answer_cannot_be_read_stops_a_plan_that_needs_it() -> None:
    broken = CaddySeen(None, IngressError("cannot reach the ingress's admin API (exit code 126)"))
    with pytest.raises(IngressError, match="exit code 126"):
        release_plan(desired(HOLDER, CADDY, WEB), observed(STEADY, broken), None, MIGRATED)
    # A plan that changes something loads the routes anyway: it needs no answer.
    steps = release_plan(desired(HOLDER, CADDY, WEB_2), observed(STEADY, broken), None, MIGRATED)
    assert [(s.action, s.name) for s in steps.changes] == [("replace", "web")]
