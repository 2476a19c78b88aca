"""One-off tasks: exit codes, live output, timeout, interrupts, the network, env and volumes."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator

import docker
import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.errors import EngineError
from dockyard.plan.model import (
    ContainerDef,
    MountDef,
    OneOffDef,
    network_name,
    volume_name,
)

from .support import BASE_IMAGE, FETCH, TEST_RUN_LABEL, Run, exec_in, service, web

pytestmark = pytest.mark.engine


def task(
    command: list[str], name: str = "job", timeout: float = 60.0, **container: object
) -> OneOffDef:
    values: dict[str, object] = {"name": name, "image": BASE_IMAGE, "command": command}
    values.update(container)
    return OneOffDef(
        service="api",
        name=name,
        container=ContainerDef.model_validate(values),
        timeout=timeout,
    )


def python(program: str) -> list[str]:
    return ["python3", "-u", "-c", program]


def task_containers(client: docker.DockerClient, test_run: Run) -> list[str]:
    """Names of the one-off containers of this test, running or not."""
    filters: dict[str, str | list[str] | bool] = {
        "label": [f"{TEST_RUN_LABEL}={test_run.id}", "dockyard.role=task"]
    }
    return [str(c.name) for c in client.containers.list(all=True, filters=filters)]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (python("import sys; sys.exit(0)"), 0),
        (python("import sys; sys.exit(1)"), 1),
        # Under a shell: PID 1 of a container cannot be killed from inside it.
        (["sh", "-c", "python3 -c 'import os; os.kill(os.getpid(), 9)'; exit $?"], 137),
    ],
    ids=["success", "failure", "killed"],
)
def test_exit_codes_pass_through_and_the_container_is_removed(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, command: list[str], code: int
) -> None:
    result = engine.run_oneoff(test_run.desired(), task(command), "r1", lambda line: None)

    assert result.exit_code == code
    assert not result.timed_out
    assert result.container.startswith(f"{test_run.environment}-api-task-job-")
    assert result.seconds >= 0
    assert task_containers(client, test_run) == []


def test_output_is_passed_on_while_the_task_runs(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    # The task prints "first", then waits until /tmp/go exists, which the output
    # callback creates when it receives "first": the task can only succeed when
    # its output arrives while it still runs.
    gate = python(
        "import os, sys, time\n"
        "print('first')\n"
        "deadline = time.monotonic() + 30\n"
        "while not os.path.exists('/tmp/go'):\n"
        "    if time.monotonic() > deadline: sys.exit(3)\n"
        "    time.sleep(0.05)\n"
        "print('second', file=sys.stderr)\n"
    )
    desired = test_run.desired()
    seen: list[str] = []
    running: dict[str, object] = {}

    def output(line: str) -> None:
        seen.append(line)
        if line != "first":
            return
        (name,) = task_containers(client, test_run)
        container = client.containers.get(name)
        running["labels"] = container.labels
        running["tasks"] = engine.observe(test_run.environment).tasks
        code, text = exec_in(client, name, "touch", "/tmp/go")
        assert code == 0, text

    result = engine.run_oneoff(desired, task(gate), "r4", output)

    assert result.exit_code == 0, result.log_tail
    assert seen == ["first", "second"]  # stdout and stderr, in the order written
    assert result.log_tail == "first\nsecond"
    labels = running["labels"]
    assert isinstance(labels, dict)
    assert {k: v for k, v in labels.items() if k.startswith("dockyard.")} == {
        "dockyard.env": test_run.environment,
        "dockyard.service": "api",
        "dockyard.kind": "task",
        "dockyard.role": "task",
        "dockyard.container": "job",
        "dockyard.release": "r4",
        "dockyard.when": "manual",
        TEST_RUN_LABEL: test_run.id,
    }
    assert running["tasks"] == []  # a one-off is never taken for a replica of its service
    assert task_containers(client, test_run) == []


def test_a_task_past_its_timeout_is_killed_and_removed(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    sleeper = task(python("import time; print('sleeping'); time.sleep(60)"), timeout=1)

    result = engine.run_oneoff(test_run.desired(), sleeper, "r1", lambda line: None)

    assert result.timed_out
    assert result.exit_code == 137
    assert result.log_tail == "sleeping"
    assert task_containers(client, test_run) == []


def test_an_interrupted_caller_leaves_no_container_behind(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    sleeper = task(python("import time; print('started'); time.sleep(60)"))

    def interrupt(line: str) -> None:
        assert task_containers(client, test_run) != []
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.run_oneoff(test_run.desired(), sleeper, "r1", interrupt)

    assert task_containers(client, test_run) == []


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in a terminal, also when the suite was
    started where it is ignored (a background job of a shell: Python then installs
    no handler for it)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_while_the_task_runs_kills_and_removes_it(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, ctrl_c_raises: None
) -> None:
    sleeper = task(python("import time; print('started'); time.sleep(60)"), timeout=30)

    def interrupt_soon(line: str) -> None:
        # From another thread, as a terminal would: the caller is waiting for the task.
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()

    with pytest.raises(KeyboardInterrupt):
        engine.run_oneoff(test_run.desired(), sleeper, "r1", interrupt_soon)

    assert task_containers(client, test_run) == []


def test_a_missing_image_is_an_engine_error_with_a_hint(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    missing = task(["true"], image="dockyard-test/does-not-exist:none")

    with pytest.raises(EngineError) as raised:
        engine.run_oneoff(test_run.desired(), missing, "r1", lambda line: None)

    assert "does-not-exist" in raised.value.message
    assert "task job of api" in raised.value.message
    assert raised.value.hint is not None and "Build the image" in raised.value.hint
    assert task_containers(client, test_run) == []


def test_a_task_reaches_services_by_name_but_does_not_take_their_name(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, web_image: str
) -> None:
    api = service("api", web(web_image, "api", env={"MESSAGE": "served"}))
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    replica = engine.start_task(desired, api, 0, "r1")
    engine.wait_ready(replica, 15, lambda line: None)
    networks = client.containers.get(replica.containers[0].id).attrs["NetworkSettings"]
    service_ip = networks["Networks"][network_name(test_run.environment)]["IPAddress"]

    fetched: list[str] = []
    fetch = task(["python3", "-c", FETCH, "http://api:8000/"], name="fetch")
    result = engine.run_oneoff(desired, fetch, "r1", fetched.append)

    assert result.exit_code == 0, result.log_tail
    assert fetched[0] == "served from api"  # the answer ends in a newline of its own

    # The task resolves the service's name while it runs itself, as task "api":
    # were it given the service's alias, its own address would be among the answers.
    resolve = python(
        "import json, socket\n"
        "print(json.dumps({'api': socket.gethostbyname_ex('api')[2],\n"
        "                  'self': socket.gethostbyname(socket.gethostname())}))\n"
    )
    answers: list[str] = []
    result = engine.run_oneoff(desired, task(resolve, name="api"), "r1", answers.append)

    assert result.exit_code == 0, result.log_tail
    (line,) = answers
    found = json.loads(line)
    assert found["api"] == [service_ip]
    assert found["self"] != service_ip
    assert task_containers(client, test_run) == []


def test_env_and_volumes_reach_the_task(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run
) -> None:
    data = volume_name(test_run.environment, "data")
    mounts = [MountDef(target="/data", volume=data), MountDef(target="/scratch", tmpfs=True)]
    write = python(
        "import os\n"
        "open('/data/greeting', 'w').write(os.environ['GREETING'])\n"
        "mounts = open('/proc/mounts').read().splitlines()\n"
        "print(next(m.split()[2] for m in mounts if m.split()[1] == '/scratch'))\n"
    )
    read = python("print(open('/data/greeting').read())")
    desired = test_run.desired(volumes=(data,))
    written: list[str] = []
    got: list[str] = []

    first = engine.run_oneoff(
        desired, task(write, env={"GREETING": "hello"}, mounts=mounts), "r1", written.append
    )
    second = engine.run_oneoff(
        desired, task(read, mounts=[MountDef(target="/data", volume=data)]), "r1", got.append
    )

    assert (first.exit_code, second.exit_code) == (0, 0), first.log_tail + second.log_tail
    assert written == ["tmpfs"]
    assert got == ["hello"]
    volume = client.volumes.get(data)
    assert volume.attrs["Labels"][TEST_RUN_LABEL] == test_run.id  # so the run removes it
    assert task_containers(client, test_run) == []
