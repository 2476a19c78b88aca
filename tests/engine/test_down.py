"""``down`` against a real engine: tasks stop at the same time, in groups.

Every process here ignores SIGTERM, so each container runs until the SIGKILL at
the end of its grace period. The engine's event log says when each got its
SIGTERM and when it exited: stops that overlap got every SIGTERM before the
first exit.
"""

from __future__ import annotations

import docker
import pytest

from dockyard.deploy.apply import apply
from dockyard.deploy.ops import down
from dockyard.engines.docker import DockerEngine
from dockyard.plan import plan

from .stops import recorded
from .support import Run, service, wait_for, web

pytestmark = pytest.mark.engine

STUBBORN = {"IGNORE_SIGTERM": "1"}


def test_down_stops_the_tasks_of_a_group_together(
    engine: DockerEngine, client: docker.DockerClient, web_image: str, test_run: Run
) -> None:
    main = web(web_image, env=STUBBORN, stop_grace=3.0)
    sidecar = web(
        web_image,
        name="side",
        sidecar=True,
        env={**STUBBORN, "PORT": "8001"},
        health=None,
        stop_grace=3.0,
    )
    desired = test_run.desired(
        service("api", main, sidecar, replicas=2),
        service("web", main, replicas=1),
        service("store", main, kind="accessory"),
    )
    actual = engine.observe(test_run.environment)
    apply(engine, desired, actual, plan(desired, actual), "1")
    names = {t.service: t.task for t in engine.observe(test_run.environment).tasks}
    api = [t.task for t in engine.observe(test_run.environment).tasks_of("api")]
    sidecars = [f"{task}-side" for task in api]
    first = [*sidecars, names["web"]]  # what stops first: web's main, api's sidecars
    everything = [*first, *api, names["store"]]

    with recorded(client, test_run) as seen:
        removed = down(engine, test_run.environment)
        wait_for(lambda: all(seen.get(n) and seen[n].died for n in everything), what="exits")

    assert len(removed.tasks) == 4
    # They all got SIGTERM before any of them exited: they stopped together.
    assert max(seen[n].terminated[0] for n in first) < min(seen[n].died[0] for n in first)
    # Inside a task, the sidecar goes before the main container.
    for task, side in zip(api, sidecars, strict=True):
        assert seen[side].died[0] < seen[task].terminated[0]
    # The accessory, once every service container is gone.
    services = [*first, *api]
    assert max(seen[n].died[0] for n in services) < seen[names["store"]].terminated[0]
    assert engine.observe(test_run.environment).tasks == []
