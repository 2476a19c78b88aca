"""Waiting for tasks: healthy returns, and every way of failing explains itself."""

from __future__ import annotations

import time

import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.engines.errors import TaskNotReady
from dockyard.errors import DeployError
from dockyard.plan.model import HealthDef

from .support import Run, service, web

pytestmark = pytest.mark.engine

CRASH = ["python3", "-c", "print('starting up'); print('fatal: no database'); raise SystemExit(3)"]


def test_wait_ready_returns_once_the_health_check_passes(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    api = service("api", web(web_image, "api"))
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")
    lines: list[str] = []

    engine.wait_ready(task, 15, lines.append)

    assert lines[-1] == f"{task.task}: ready"
    assert f"{task.task}: running, health: healthy" in lines
    (observed,) = engine.observe(test_run.environment).tasks
    assert observed.healthy


def test_wait_ready_without_a_health_check_needs_only_running(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    api = service("api", web(web_image, "api", health=None))
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    engine.wait_ready(task, 15, lambda line: None)


@pytest.mark.parametrize("restart", ["no", "unless-stopped"])
def test_a_container_that_exits_fails_with_its_logs(
    engine: DockerEngine, test_run: Run, web_image: str, restart: str
) -> None:
    api = service("api", web(web_image, "api", command=CRASH, health=None), restart=restart)
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    started = time.monotonic()
    with pytest.raises(TaskNotReady) as raised:
        engine.wait_ready(task, 20, lambda line: None)

    assert time.monotonic() - started < 10  # fails on the exit, not at the deadline
    error = raised.value
    assert isinstance(error, DeployError)
    assert error.container == task.task
    assert "exit code 3" in error.message or "exited with code 3" in error.message
    assert "fatal: no database" in error.logs
    assert "fatal: no database" in error.message
    assert error.hint is not None


def test_a_sidecar_that_exits_fails_the_task(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    api = service(
        "api",
        web(web_image, "api"),
        web(web_image, "agent", sidecar=True, command=CRASH, health=None),
        restart="no",
    )
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    with pytest.raises(TaskNotReady) as raised:
        engine.wait_ready(task, 20, lambda line: None)

    assert raised.value.container == f"{task.task}-agent"
    assert "fatal: no database" in raised.value.logs


def test_unhealthy_fails_with_the_health_check_output(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    failing = HealthDef(
        test=["CMD-SHELL", "echo 'db ping failed' && exit 1"],
        interval=0.2,
        timeout=2.0,
        retries=1,
        start_period=0.0,
    )
    api = service("api", web(web_image, "api", health=failing))
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    with pytest.raises(TaskNotReady) as raised:
        engine.wait_ready(task, 20, lambda line: None)

    message = raised.value.message
    assert "is unhealthy" in message
    assert "db ping failed" in message
    assert "listening on 8000" in raised.value.logs


def test_never_healthy_fails_at_the_deadline(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    never = HealthDef(
        test=["CMD", "false"], interval=0.2, timeout=2.0, retries=1000, start_period=0
    )
    api = service("api", web(web_image, "api", health=never))
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    started = time.monotonic()
    with pytest.raises(TaskNotReady) as raised:
        engine.wait_ready(task, 2, lambda line: None)

    assert 2 <= time.monotonic() - started < 5
    assert "did not become ready within 2s" in raised.value.message
    assert "starting" in raised.value.message
    assert "listening on 8000" in raised.value.logs


@pytest.mark.parametrize(
    "test",
    [["CMD", "/no/such/probe"], ["CMD-SHELL", "no-such-probe --quiet"]],
    ids=["exec", "shell"],
)
@pytest.mark.fault
def test_a_health_check_that_cannot_run_fails_without_waiting_out_the_deadline(
    engine: DockerEngine, test_run: Run, web_image: str, test: list[str]
) -> None:
    # A long start period: without this check, the wait would end at the deadline.
    missing = HealthDef(test=test, interval=0.5, timeout=2.0, retries=3, start_period=300)
    api = service("api", web(web_image, "api", health=missing))
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    with pytest.raises(TaskNotReady) as raised:
        engine.wait_ready(task, 300, lambda line: None)

    assert "has a health check that cannot run" in raised.value.message
    assert "did not become ready within" not in raised.value.message
    assert "not found" in raised.value.message or "no such file" in raised.value.message


@pytest.mark.fault
def test_a_main_restart_fails_a_task_with_sidecars(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    never = HealthDef(
        test=["CMD", "false"], interval=0.2, timeout=2.0, retries=1000, start_period=0
    )
    short_lived = ["python3", "-c", "import time; print('up'); time.sleep(1); raise SystemExit(1)"]
    api = service(
        "api",
        web(web_image, "api", command=short_lived, health=never),
        web(web_image, "proxy", sidecar=True, env={"PORT": "9000"}, health=None),
    )
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    with pytest.raises(TaskNotReady) as raised:
        engine.wait_ready(task, 20, lambda line: None)

    assert raised.value.container == task.task
    assert "cuts its sidecars off" in raised.value.message
