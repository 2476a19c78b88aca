"""The planner and the orchestrator against a real engine: converge, then fail safely."""

from __future__ import annotations

import re

import docker
import pytest

from dockyard.deploy.apply import apply
from dockyard.engines.docker import DockerEngine
from dockyard.engines.errors import TaskNotReady
from dockyard.events import Event
from dockyard.plan import plan
from dockyard.plan.model import DesiredState, PortDef, task_name

from .stops import recorded
from .support import Run, free_port, http_get, service, wait_for, web

pytestmark = pytest.mark.engine

CRASH = ["python3", "-c", "import sys; print('cannot start: bad config'); sys.exit(3)"]


def converge(engine: DockerEngine, desired: DesiredState, release: str) -> None:
    actual = engine.observe(desired.environment)
    apply(engine, desired, actual, plan(desired, actual), release)


def test_apply_converges_and_the_next_plan_is_empty(
    engine: DockerEngine, web_image: str, test_run: Run
) -> None:
    desired = test_run.desired(service("web", web(web_image, env={"MESSAGE": "v1"}), replicas=2))
    converge(engine, desired, "r1")
    actual = engine.observe(test_run.environment)
    assert [(t.replica, t.healthy) for t in actual.tasks_of("web")] == [(1, True), (2, True)]
    assert plan(desired, actual).empty

    # Scale down: the highest slot goes, the first is untouched.
    first = actual.tasks_of("web")[0].task
    smaller = test_run.desired(service("web", web(web_image, env={"MESSAGE": "v1"}), replicas=1))
    converge(engine, smaller, "r2")
    assert [t.task for t in engine.observe(test_run.environment).tasks_of("web")] == [first]


def test_failed_start_first_replacement_keeps_the_old_task(
    engine: DockerEngine, web_image: str, test_run: Run
) -> None:
    v1 = test_run.desired(service("web", web(web_image, env={"MESSAGE": "v1"})))
    converge(engine, v1, "r1")
    (old,) = engine.observe(test_run.environment).tasks_of("web")

    v2 = test_run.desired(service("web", web(web_image, command=CRASH), health_timeout=20))
    with pytest.raises(TaskNotReady) as failure:
        converge(engine, v2, "r2")
    assert "cannot start: bad config" in failure.value.logs

    (left,) = engine.observe(test_run.environment).tasks_of("web")
    assert left.task == old.task and left.healthy


def test_failed_stop_first_replacement_restores_the_previous_version(
    engine: DockerEngine, web_image: str, test_run: Run
) -> None:
    port = free_port()
    published = [PortDef(name="http", port=8000, publish=port)]
    v1 = test_run.desired(service("web", web(web_image, env={"MESSAGE": "v1"}, ports=published)))
    converge(engine, v1, "r1")
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: "v1" in http_get(url), what="v1 to answer")

    broken = web(web_image, env={"MESSAGE": "v2"}, ports=published, command=CRASH)
    v2 = test_run.desired(service("web", broken, health_timeout=20))
    with pytest.raises(TaskNotReady):
        converge(engine, v2, "r2")

    (task,) = engine.observe(test_run.environment).tasks_of("web")
    assert task.spec_hash == v1.service("web").task.spec_hash()
    assert task.release == "r1"
    assert "v1" in str(wait_for(lambda: http_get(url), what="v1 to answer again"))
    # And the next run with the good definition has nothing to do.
    assert plan(v1, engine.observe(test_run.environment)).empty


def batches(events: list[Event]) -> list[str]:
    """The order of starts and removals in a deploy's events: ``+`` and ``-``."""
    return [("+" if e.kind == "start" else "-") for e in events if e.kind in ("start", "stop")]


def moves(events: list[Event]) -> list[str]:
    """Starts, readies and removals in a deploy's events, with the replica slot:
    ``+1`` (started), ``✓1`` (ready), ``-1`` (removed)."""
    marks = {"start": "+", "ready": "✓", "stop": "-"}
    return [
        marks[e.kind] + re.findall(r"-(\d+)-[0-9a-f]{7}\b", e.message)[0]
        for e in events
        if e.kind in marks
    ]


def test_replacements_go_in_batches_of_max_surge_or_max_unavailable(
    engine: DockerEngine, web_image: str, test_run: Run
) -> None:
    def version(message: str, **deploy: int) -> DesiredState:
        container = web(web_image, env={"MESSAGE": message})
        return test_run.desired(service("web", container, replicas=3, watch=0, **deploy))

    converge(engine, version("v1"), "r1")

    # Start-first, two at a time: two new, ready, then the two old ones go while
    # the last new one starts; the last old one goes once that one is ready.
    events: list[Event] = []
    actual = engine.observe(test_run.environment)
    v2 = version("v2", max_surge=2, max_unavailable=0)
    apply(engine, v2, actual, plan(v2, actual), "r2", events.append)
    seen = moves(events)
    assert sorted(seen) == ["+1", "+2", "+3", "-1", "-2", "-3", "✓1", "✓2", "✓3"]
    first_ready = max(seen.index("✓1"), seen.index("✓2"))
    assert seen.index("+3") > first_ready
    assert min(seen.index("-1"), seen.index("-2")) > first_ready
    assert seen.index("-3") > seen.index("✓3")

    # Stop-first (no surge), two at a time: two old out, two new; then the last one.
    events.clear()
    actual = engine.observe(test_run.environment)
    v3 = version("v3", max_surge=0, max_unavailable=2)
    apply(engine, v3, actual, plan(v3, actual), "r3", events.append)
    assert batches(events) == ["-", "-", "+", "+", "-", "+"]
    tasks = engine.observe(test_run.environment).tasks_of("web")
    assert len(tasks) == 3 and all(t.healthy for t in tasks)
    assert {t.spec_hash for t in tasks} == {v3.service("web").task.spec_hash()}


def test_old_replicas_stop_while_the_next_batch_starts(
    engine: DockerEngine, client: docker.DockerClient, web_image: str, test_run: Run
) -> None:
    # Old replicas that ignore SIGTERM: each takes its whole grace period to stop.
    def version(message: str) -> DesiredState:
        container = web(web_image, env={"MESSAGE": message, "IGNORE_SIGTERM": "1"}, stop_grace=5)
        return test_run.desired(service("web", container, replicas=2, watch=0))

    v1, v2 = version("v1"), version("v2")
    converge(engine, v1, "r1")
    old = [t.task for t in engine.observe(test_run.environment).tasks_of("web")]
    new = [
        task_name(test_run.environment, "web", n, v2.service("web").task.spec_hash())
        for n in (1, 2)
    ]

    with recorded(client, test_run) as seen:
        converge(engine, v2, "r2")
        wait_for(lambda: all(seen.get(n) and seen[n].died for n in old), what="the old exits")

    # The second new replica started while the first old one was still stopping,
    # which got its SIGTERM only once the first new one was healthy.
    assert seen[new[1]].started[0] < seen[old[0]].died[0]
    assert seen[new[0]].healthy[0] < seen[old[0]].terminated[0]
    assert seen[new[1]].healthy[0] < seen[old[1]].terminated[0]
    # The deploy returned with the old replicas gone.
    assert sorted(t.task for t in engine.observe(test_run.environment).tasks_of("web")) == new


def test_a_replica_that_fails_in_its_watch_window_is_reverted(
    engine: DockerEngine, web_image: str, test_run: Run
) -> None:
    v1 = test_run.desired(service("web", web(web_image, env={"MESSAGE": "v1"}), replicas=2))
    converge(engine, v1, "r1")
    before = sorted(t.spec_hash for t in engine.observe(test_run.environment).tasks_of("web"))

    # Healthy at first, gone three seconds later: exits during its 10 s watch window.
    dies = ["sh", "-c", "timeout 3 python3 /app/server.py; exit 4"]
    v2 = test_run.desired(
        service("web", web(web_image, command=dies), replicas=2, watch=10, health_timeout=20)
    )
    with pytest.raises(TaskNotReady, match="after it was ready"):
        converge(engine, v2, "r2")
    after = engine.observe(test_run.environment).tasks_of("web")
    assert sorted(t.spec_hash for t in after) == before
    assert all(t.healthy for t in after)
