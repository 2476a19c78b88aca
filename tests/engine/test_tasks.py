"""Running tasks: sidecars, name resolution, published ports, observe and removal."""

from __future__ import annotations

import docker
import docker.errors
import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.errors import EngineError
from dockyard.plan.model import PortDef, network_name, task_name

from .support import (
    FETCH,
    TEST_RUN_LABEL,
    Run,
    exec_in,
    free_port,
    http_get,
    service,
    wait_for,
    web,
)

pytestmark = pytest.mark.engine


def test_sidecar_reaches_the_main_container_on_localhost(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    api = service(
        "api",
        web(web_image, "api", env={"MESSAGE": "main"}),
        web(web_image, "proxy", sidecar=True, env={"PORT": "9000"}, health=None),
    )
    desired = test_run.desired(api)
    engine.ensure_network(desired)

    task = engine.start_task(desired, api, 0, "r1")
    engine.wait_ready(task, 15, lambda line: None)

    assert task.task == task_name(test_run.environment, "api", 0, api.task.spec_hash())
    assert [(c.container, c.role) for c in task.containers] == [
        ("api", "main"),
        ("proxy", "sidecar"),
    ]
    sidecar = task.containers[1]
    assert sidecar.name == f"{task.task}-proxy"
    code, output = exec_in(client, sidecar.id, "python3", "-c", FETCH, "http://127.0.0.1:8000/")
    assert code == 0, output
    assert output.strip() == "main from api"  # the main's hostname is the service name
    labels = client.containers.get(sidecar.id).labels
    assert labels[TEST_RUN_LABEL] == test_run.id
    assert labels["dockyard.task"] == task.task
    assert labels["dockyard.role"] == "sidecar"


def test_services_resolve_each_other_by_name_on_the_environment_network(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    backend = service("backend", web(web_image, "backend", env={"MESSAGE": "backend"}))
    frontend = service("frontend", web(web_image, "frontend"))
    desired = test_run.desired(backend, frontend)
    engine.ensure_network(desired)
    engine.ensure_network(desired)  # idempotent
    network = client.networks.get(network_name(test_run.environment))
    assert network.attrs["Labels"]["dockyard.role"] == "network"
    assert network.attrs["Labels"][TEST_RUN_LABEL] == test_run.id

    backend_task = engine.start_task(desired, backend, 0, "r1")
    frontend_task = engine.start_task(desired, frontend, 0, "r1")
    engine.wait_ready(backend_task, 15, lambda line: None)
    engine.wait_ready(frontend_task, 15, lambda line: None)

    main = frontend_task.containers[0]
    code, output = exec_in(client, main.id, "python3", "-c", FETCH, "http://backend:8000/")
    assert code == 0, output
    assert output.strip() == "backend from backend"


def test_published_port_answers_on_localhost(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    port = free_port()
    site = service(
        "site", web(web_image, "site", ports=[PortDef(name="http", port=8000, publish=port)])
    )
    desired = test_run.desired(site)
    engine.ensure_network(desired)
    engine.start_task(desired, site, 0, "r1")

    answer = wait_for(lambda: http_get(f"http://127.0.0.1:{port}/"), what=f"port {port}")
    assert answer == "hello from site\n"


def test_observe_groups_tasks_and_reads_back_their_labels(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    api = service(
        "api",
        web(web_image, "api"),
        web(web_image, "proxy", sidecar=True, env={"PORT": "9000"}, health=None),
    )
    worker = service("worker", web(web_image, "worker", health=None), kind="accessory")
    desired = test_run.desired(api, worker)
    engine.ensure_network(desired)
    for replica in (0, 1):
        engine.start_task(desired, api, replica, "r7")
    engine.start_task(desired, worker, 0, "r8")

    actual = engine.observe(test_run.environment)

    assert actual.network == network_name(test_run.environment)
    assert len(actual.tasks) == 3
    api_tasks = actual.tasks_of("api")
    assert [t.replica for t in api_tasks] == [0, 1]
    for task in api_tasks:
        assert task.definition == api.task
        assert task.spec_hash == api.task.spec_hash()
        assert task.release == "r7"
        assert task.kind == "service"
        assert [c.container for c in task.containers] == ["api", "proxy"]
        assert all(c.status == "running" for c in task.containers)
        assert task.complete(api.task)
    (worker_task,) = actual.tasks_of("worker")
    assert worker_task.kind == "accessory"
    assert worker_task.release == "r8"
    assert engine.observe(f"{test_run.environment}-other").tasks == []


def test_observe_reads_health_and_exit_codes(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    ok = service("ok", web(web_image, "ok"))
    crash = service(
        "crash",
        web(web_image, "crash", command=["python3", "-c", "raise SystemExit(4)"], health=None),
        restart="no",
    )
    desired = test_run.desired(ok, crash)
    engine.ensure_network(desired)
    engine.start_task(desired, ok, 0, "r1")
    engine.start_task(desired, crash, 0, "r1")

    def settled() -> bool:
        actual = engine.observe(test_run.environment)
        (ok_task,) = actual.tasks_of("ok")
        (crash_task,) = actual.tasks_of("crash")
        return ok_task.healthy and crash_task.containers[0].status == "exited"

    wait_for(settled, what="health and exit")
    actual = engine.observe(test_run.environment)
    assert actual.tasks_of("ok")[0].containers[0].health == "healthy"
    crashed = actual.tasks_of("crash")[0].containers[0]
    assert crashed.exit_code == 4
    assert crashed.health is None


def test_observe_tolerates_a_bad_definition_label(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    client.containers.create(
        web_image,
        name=f"{test_run.environment}-odd-0-abcdef0",
        labels={
            TEST_RUN_LABEL: test_run.id,
            "dockyard.env": test_run.environment,
            "dockyard.service": "odd",
            "dockyard.task": f"{test_run.environment}-odd-0-abcdef0",
            "dockyard.replica": "zero",
            "dockyard.definition": "{not json",
        },
    )
    (task,) = engine.observe(test_run.environment).tasks
    assert task.service == "odd"
    assert task.definition is None
    assert task.containers[0].status == "created"


def test_remove_task_removes_every_container(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    api = service(
        "api",
        web(web_image, "api"),
        web(web_image, "proxy", sidecar=True, env={"PORT": "9000"}, health=None),
    )
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")
    engine.wait_ready(task, 15, lambda line: None)  # the servers now stop on SIGTERM

    engine.remove_task(task)

    for container in task.containers:
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(container.id)
    assert engine.observe(test_run.environment).tasks == []
    engine.remove_task(task)  # idempotent
    engine.remove_network(test_run.environment)
    engine.remove_network(test_run.environment)  # idempotent
    assert engine.observe(test_run.environment).network is None


def test_stale_container_with_the_same_name_is_replaced(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    api = service(
        "api",
        web(web_image, "api"),
        web(web_image, "proxy", sidecar=True, env={"PORT": "9000"}, health=None),
    )
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    first = engine.start_task(desired, api, 0, "r1")

    # As if a run had crashed after creating the task: start the same one again.
    second = engine.start_task(desired, api, 0, "r2")

    assert second.task == first.task
    assert {c.id for c in second.containers}.isdisjoint(c.id for c in first.containers)
    (task,) = engine.observe(test_run.environment).tasks
    assert task.release == "r2"
    assert len(task.containers) == 2


def test_a_container_that_is_not_ours_is_never_removed(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    api = service("api", web(web_image, "api"))
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    name = task_name(test_run.environment, "api", 0, api.task.spec_hash())
    foreign = client.containers.create(web_image, name=name, labels={TEST_RUN_LABEL: test_run.id})

    with pytest.raises(EngineError, match="not made by Dockyard") as raised:
        engine.start_task(desired, api, 0, "r1")

    assert raised.value.hint is not None and f"docker rm -f {name}" in raised.value.hint
    assert client.containers.get(name).id == foreign.id


def test_a_start_that_fails_leaves_nothing_behind(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    api = service(
        "api",
        web(web_image, "api"),
        web("dockyard-test/does-not-exist:none", "proxy", sidecar=True, health=None),
    )
    desired = test_run.desired(api)
    engine.ensure_network(desired)

    with pytest.raises(EngineError) as raised:
        engine.start_task(desired, api, 0, "r1")

    assert "does-not-exist" in raised.value.message
    assert raised.value.hint is not None and "Build the image" in raised.value.hint
    assert engine.observe(test_run.environment).tasks == []


def test_sidecars_cut_off_by_a_main_restart_are_reported_detached(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    api = service(
        "api",
        web(web_image, "api"),
        web(web_image, "proxy", sidecar=True, env={"PORT": "9000"}, health=None),
    )
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")
    engine.wait_ready(task, 15, lambda line: None)
    assert [c.status for c in engine.observe(test_run.environment).tasks[0].containers] == [
        "running",
        "running",
    ]

    # The server exits on SIGTERM and its restart policy starts it again, in a new namespace.
    exec_in(client, task.containers[0].id, "python3", "-c", "import os; os.kill(1, 15)")

    def statuses() -> list[str]:
        return [c.status for c in engine.observe(test_run.environment).tasks[0].containers]

    # The main restarted by its policy counts as crash-looping until it has been up 10 s.
    wait_for(
        lambda: statuses() in (["running", "detached"], ["crash-looping", "detached"]),
        what="the sidecar to be detached",
    )
    assert not engine.observe(test_run.environment).tasks[0].running
