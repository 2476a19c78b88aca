"""The planner as data: desired + actual → expected steps."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dockyard.plan import plan
from dockyard.plan.model import (
    ActualState,
    ActualTask,
    ContainerDef,
    DesiredState,
    MountDef,
    PortDef,
    ServiceDef,
    TaskDef,
)
from tests.unit.plan.states import running as task

ENV = "t"


def svc(name: str, replicas: int = 1, image: str = "sha256:aaa", **env: str) -> ServiceDef:
    main = ContainerDef(name=name, image=image, env=env, ports=[PortDef(name="http", port=8000)])
    return ServiceDef(name=name, task=TaskDef(containers=[main]), replicas=replicas)


def desired(*services: ServiceDef, volumes: tuple[str, ...] = ()) -> DesiredState:
    return DesiredState(
        environment=ENV, network="dockyard-t", services=list(services), volumes=list(volumes)
    )


def actual(*tasks: ActualTask, network: bool = True, volumes: tuple[str, ...] = ()) -> ActualState:
    return ActualState(
        environment=ENV,
        network="dockyard-t" if network else None,
        tasks=list(tasks),
        volumes=list(volumes),
    )


@dataclass
class Case:
    id: str
    desired: DesiredState
    actual: ActualState
    # (action, target, name, start, n_replace, n_stop) for every step that changes something
    expect: list[tuple[str, str, str, list[int], int, int]] = field(default_factory=list)
    changes: dict[str, list[str]] = field(default_factory=dict)  # service -> changed paths


API = svc("api", replicas=2, LOG_LEVEL="info")
API_DEBUG = svc("api", replicas=2, LOG_LEVEL="debug")
API_3 = svc("api", replicas=3, LOG_LEVEL="info")
WEB = svc("web")

CASES = [
    Case(
        "empty engine: network, volume and every service are created",
        desired(API, WEB, volumes=("dockyard-t-data",)),
        actual(network=False),
        [
            ("create", "network", "dockyard-t", [], 0, 0),
            ("create", "volume", "dockyard-t-data", [], 0, 0),
            ("create", "service", "api", [1, 2], 0, 0),
            ("create", "service", "web", [1], 0, 0),
        ],
    ),
    Case(
        "nothing changed: no step",
        desired(API, WEB, volumes=("dockyard-t-data",)),
        actual(task(API, 1), task(API, 2), task(WEB, 1), volumes=("dockyard-t-data",)),
        [],
    ),
    Case(
        "env var changed: replace both replicas, field-level change shown",
        desired(API_DEBUG, WEB),
        actual(task(API, 1), task(API, 2), task(WEB, 1)),
        [("replace", "service", "api", [], 2, 0)],
        {"api": ["containers.api.env.LOG_LEVEL"]},
    ),
    Case(
        "new image: replace, image change shown",
        desired(svc("web", image="sha256:bbb")),
        actual(task(WEB, 1)),
        [("replace", "service", "web", [], 1, 0)],
        {"web": ["containers.web.image"]},
    ),
    Case(
        "replicas up: scale starts the new slot only",
        desired(API_3, WEB),
        actual(task(API, 1), task(API, 2), task(WEB, 1)),
        [("scale", "service", "api", [3], 0, 0)],
        {"api": ["replicas"]},
    ),
    Case(
        "replicas down: scale stops the highest slots",
        desired(svc("api", replicas=1, LOG_LEVEL="info"), WEB),
        actual(task(API, 1), task(API, 2), task(WEB, 1)),
        [("scale", "service", "api", [], 0, 1)],
        {"api": ["replicas"]},
    ),
    Case(
        "service gone from the environment: removed",
        desired(WEB),
        actual(task(API, 1), task(API, 2), task(WEB, 1)),
        [("remove", "service", "api", [], 0, 2)],
    ),
    Case(
        "exited container: replaced",
        desired(WEB),
        actual(task(WEB, 1, status="exited")),
        [("replace", "service", "web", [], 1, 0)],
    ),
    Case(
        "a restarting container is not live: replaced",
        desired(WEB),
        actual(task(WEB, 1, status="restarting")),
        [("replace", "service", "web", [], 1, 0)],
    ),
    Case(
        "a crash-looping container is not live: replaced",
        desired(WEB),
        actual(task(WEB, 1, status="crash-looping")),
        [("replace", "service", "web", [], 1, 0)],
    ),
    Case(
        "an unhealthy container is not live: replaced",
        desired(WEB),
        actual(task(WEB, 1, health="unhealthy")),
        [("replace", "service", "web", [], 1, 0)],
    ),
    Case(
        "a container whose check is still starting is live",
        desired(WEB),
        actual(task(WEB, 1, health="starting")),
        [],
    ),
    Case(
        "interrupted deploy left old and new in one slot: keep the new, stop the old",
        desired(API_DEBUG),
        actual(task(API_DEBUG, 1), task(API, 1), task(API_DEBUG, 2)),
        [("scale", "service", "api", [], 0, 1)],
    ),
    Case(
        "interrupted deploy left the new one only in one slot: replace the other",
        desired(API_DEBUG),
        actual(task(API_DEBUG, 1), task(API, 2)),
        [("replace", "service", "api", [], 1, 0)],
        {"api": ["containers.api.env.LOG_LEVEL"]},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan(case: Case) -> None:
    result = plan(case.desired, case.actual)
    got = [
        (s.action, s.target, s.name, s.start, len(s.replace), len(s.stop)) for s in result.changes
    ]
    assert got == case.expect
    assert result.empty == (not case.expect)
    for service, paths in case.changes.items():
        step = next(s for s in result.steps if s.name == service)
        assert [c.path for c in step.changes] == paths


def test_change_carries_old_and_new_values() -> None:
    result = plan(desired(API_DEBUG), actual(task(API, 1), task(API, 2)))
    (change,) = result.changes[0].changes
    assert (change.old, change.new) == ("info", "debug")
    assert result.changes[0].reason == "definition changed"


def test_missing_sidecar_replaces_the_task() -> None:
    main = ContainerDef(name="api", image="sha256:a")
    side = ContainerDef(name="stats", image="sha256:b", sidecar=True)
    service = ServiceDef(name="api", task=TaskDef(containers=[main, side]))
    result = plan(desired(service), actual(task(service, 1, missing=("stats",))))
    (step,) = result.changes
    assert (step.action, step.reason) == ("replace", "containers missing")


def test_spec_hash_ignores_replicas_but_not_definition() -> None:
    assert API.task.spec_hash() == API_3.task.spec_hash()
    assert API.task.spec_hash() != API_DEBUG.task.spec_hash()


def test_plan_is_serialisable() -> None:
    result = plan(desired(API_DEBUG), actual(task(API, 1)))
    data = result.model_dump(mode="json")
    paths = [c["path"] for c in data["steps"][1]["changes"]]
    assert paths == ["replicas", "containers.api.env.LOG_LEVEL"]
    assert data["steps"][1]["replicas"] == [1, 2]


def test_only_leaves_other_services_alone() -> None:
    # web is not in the desired state (a deploy of api alone): it is not removed.
    result = plan(
        desired(API_DEBUG), actual(task(API, 1), task(API, 2), task(WEB, 1)), only={"api"}
    )
    assert [(s.action, s.name) for s in result.changes] == [("replace", "api")]
    # Without `only`, the same inputs remove web.
    full = plan(desired(API_DEBUG), actual(task(API, 1), task(API, 2), task(WEB, 1)))
    assert ("remove", "web") in [(s.action, s.name) for s in full.changes]


def test_replacing_a_data_writer_is_stop_first_and_says_why() -> None:
    db = ServiceDef(
        name="db",
        kind="accessory",
        task=TaskDef(
            containers=[
                ContainerDef(
                    name="db",
                    image="sha256:new",
                    mounts=[MountDef(target="/data", volume="dockyard-t-pgdata")],
                )
            ]
        ),
    )
    old = db.model_copy(
        update={
            "task": TaskDef(containers=[db.task.main.model_copy(update={"image": "sha256:old"})])
        }
    )
    step = next(s for s in plan(desired(db), actual(task(old, 1))).changes if s.name == "db")
    assert step.action == "replace"
    assert step.order == "stop-first"
    assert step.order_reason == "writes volume dockyard-t-pgdata: one writer at a time"


def test_read_only_and_shared_mounts_roll_start_first() -> None:
    for mount in (
        MountDef(target="/data", volume="dockyard-t-files", read_only=True),
        MountDef(target="/data", volume="dockyard-t-files", shared=True),
    ):
        new = svc("files").task.main.model_copy(update={"mounts": [mount]})
        service = svc("files").model_copy(update={"task": TaskDef(containers=[new])})
        step = plan(desired(service), actual(task(svc("files", image="sha256:old"), 1))).changes[0]
        assert (step.action, step.order, step.order_reason) == ("replace", "start-first", None)


def test_shared_flag_at_its_default_keeps_old_hashes() -> None:
    mount = MountDef(target="/data", volume="v")
    task_def = TaskDef(containers=[ContainerDef(name="c", image="i", mounts=[mount])])
    assert '"shared"' not in task_def.canonical()
    shared = TaskDef(
        containers=[
            ContainerDef(name="c", image="i", mounts=[mount.model_copy(update={"shared": True})])
        ]
    )
    assert shared.spec_hash() != task_def.spec_hash()
