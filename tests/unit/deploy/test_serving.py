"""Before the after-deploy tasks, the ingress is asked for each proxied service's
health check until it answers (from inside Caddy's container, the service's name
as Host), for up to the service's health_timeout."""

from __future__ import annotations

import shutil
from pathlib import Path

from dockyard.deploy.serving import wait_serving
from dockyard.events import Event
from dockyard.plan import desire
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE
from dockyard.plan.model import ActualState, DesiredState
from dockyard.spec import load_environment
from tests.unit.plan.states import IMAGES, VALID, running


class Engine:
    """What runs (the valid case's api and ingress) and an ingress that answers
    ``answers`` in turn, then the last one for ever."""

    def __init__(self, desired: DesiredState, answers: list[str]) -> None:
        names = ("api", HOLDER_SERVICE, INGRESS_SERVICE)
        tasks = [running(desired.service(n), environment="local") for n in names]
        self.actual = ActualState(environment="local", tasks=tasks)
        self.answers = answers
        self.asked: list[tuple[str, list[str]]] = []

    def observe(self, environment: str) -> ActualState:
        return self.actual

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        self.asked.append((container_id, argv))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return 0, answer + "\n"


def _desired(tmp_path: Path, health_timeout: float | None = None) -> DesiredState:
    copy = tmp_path / "repo"
    shutil.copytree(VALID, copy)
    state = desire(load_environment(copy, "local"), IMAGES)
    assert state.ingress is not None and state.ingress.proxy("api") is not None
    assert state.ingress.proxy("api").health_path == "/healthz"  # type: ignore[union-attr]
    if health_timeout is None:
        return state
    services = [
        s.model_copy(update={"health_timeout": health_timeout}) if s.name == "api" else s
        for s in state.services
    ]
    return state.model_copy(update={"services": services})


def test_it_asks_until_the_ingress_serves_the_service(tmp_path: Path) -> None:
    desired = _desired(tmp_path)
    engine = Engine(desired, ["503", "0 ConnectionResetError", "200"])
    events: list[Event] = []
    assert wait_serving(engine, desired, events.append) == []  # type: ignore[arg-type]
    assert len(engine.asked) == 3
    caddy = engine.actual.tasks_of(INGRESS_SERVICE)[0].main
    assert caddy is not None
    container, argv = engine.asked[0]
    assert container == caddy.id
    assert argv[3:5] == ["http://127.0.0.1:8000/healthz", "api"]  # the url, the Host
    assert [e.message for e in events] == ["waiting for the ingress to serve api again"]


def test_a_service_still_not_served_in_its_health_timeout_is_named(tmp_path: Path) -> None:
    desired = _desired(tmp_path, health_timeout=0.6)
    engine = Engine(desired, ["503"])
    assert wait_serving(engine, desired, lambda e: None) == ["api"]  # type: ignore[arg-type]
    assert len(engine.asked) >= 2


def test_without_a_running_replica_nothing_is_asked(tmp_path: Path) -> None:
    desired = _desired(tmp_path)
    engine = Engine(desired, ["503"])
    engine.actual = ActualState(
        environment="local",
        tasks=[t for t in engine.actual.tasks if t.service != "api"],
    )
    assert wait_serving(engine, desired, lambda e: None) == []  # type: ignore[arg-type]
    assert engine.asked == []
