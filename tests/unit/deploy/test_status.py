"""``status`` as data: each replica's containers with what an inspect tells, and
what is wrong with one that does not run well.

A fake engine stands in for Docker here; tests/acceptance/test_deploy.py reads
the same fields from a deployed example.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from dockyard.cli import render
from dockyard.cli.statusview import status_view
from dockyard.deploy.status import status
from dockyard.engines.access import ContainerDetails
from dockyard.engines.base import Platform
from dockyard.plan.model import ActualContainer, ActualState, ActualTask, ContainerDef, TaskDef
from dockyard.spec import load_environment

REPO = Path(__file__).resolve().parents[1] / "spec" / "cases" / "valid"
STARTED = datetime.now(UTC) - timedelta(minutes=5)
CHECK = "GET http://127.0.0.1:8000/healthz: 404 Not Found"


def api(replica: int, health: str) -> ActualTask:
    name = f"local-api-{replica}-abc1234"
    definition = TaskDef(
        containers=[
            ContainerDef(name="api", image="reg/api@sha256:" + "a" * 64),
            ContainerDef(name="stats", image="sha256:" + "b" * 64, sidecar=True),
        ]
    )
    containers = [
        ActualContainer(
            id=f"{name}-m", name=name, container="api", role="main", status="running", health=health
        ),
        ActualContainer(
            id=f"{name}-s",
            name=f"{name}-stats",
            container="stats",
            role="sidecar",
            status="running",
        ),
    ]
    return ActualTask(
        task=name,
        service="api",
        replica=replica,
        spec_hash="abc1234",
        release="7",
        definition=definition,
        containers=containers,
    )


class Inspecting:
    """Observes two api replicas, the second unhealthy; inspects answer as Docker's would."""

    name = "fake"

    def observe(self, environment: str) -> ActualState:
        return ActualState(
            environment=environment, network="n", tasks=[api(1, "healthy"), api(2, "unhealthy")]
        )

    def logs(self, container_id: str, tail: int = 20) -> str:
        return "GET /healthz 404\n"

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        return 0, ""

    def attach(self, container_id: str, argv: list[str], io: object) -> int:
        return 0

    def details(self, container_id: str) -> ContainerDetails | None:
        sidecar = container_id.endswith("-s")
        return ContainerDetails(
            started=STARTED,
            image_id="sha256:" + ("b" if sidecar else "a") * 64,
            image_digests=[] if sidecar else ["reg/api@sha256:" + "a" * 64],
            restarts=1 if sidecar else 0,
            health_output=None if sidecar else CHECK,
        )


def test_every_replica_lists_its_containers() -> None:
    env = load_environment(REPO, "local")
    st = status(cast(Platform, Inspecting()), env)
    service = next(s for s in st.services if s.name == "api")
    first, second = service.tasks
    main, sidecar = first.containers
    assert (main.name, main.container, main.role) == ("local-api-1-abc1234", "api", "main")
    assert main.digest == "sha256:" + "a" * 64
    assert main.image == "reg/api@sha256:" + "a" * 64
    assert main.uptime is not None and main.uptime >= 300.0
    assert main.started == STARTED.isoformat()
    assert main.check is None  # healthy: its check's output is not news
    assert (sidecar.digest, sidecar.restarts, sidecar.image) == (None, 1, "sha256:" + "b" * 64)
    assert (first.restarts, first.uptime, first.release, first.ok) == (1, main.uptime, "7", True)
    assert second.containers[0].check == CHECK
    assert second.problem == f"api unhealthy: {CHECK}"
    assert second.last_lines == "GET /healthz 404"
    assert not service.ok


def test_the_table_shows_each_container_and_what_is_wrong() -> None:
    env = load_environment(REPO, "local")
    st = status(cast(Platform, Inspecting()), env)
    out = io.StringIO()
    console = render.console(file=out)
    console.width = 200
    console.print(status_view(st))
    text = out.getvalue()
    for row in ("api/1", "local-api-1-abc1234-stats", "running (unhealthy)", "reg/api@sha256:aaaa"):
        assert row in text
    assert f"✗ api replica 2 (local-api-2-abc1234): api unhealthy: {CHECK}" in text
    assert "    GET /healthz 404" in text
