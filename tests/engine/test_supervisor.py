"""The supervisor against a real engine: what is killed or crashes comes back without
a deploy, sidecars follow their main's restarts, and what Dockyard removes stays
removed.

Each test deploys (``apply``) an environment of its own: the ingress publishing a
free port on 127.0.0.1, the supervisor, and ``web``: the test web server with a
``probe`` sidecar in its network namespace (the same server on port 9000, from
which a test fetches ``127.0.0.1:8000``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import docker
import pytest

from dockyard.deploy.apply import apply
from dockyard.discovery import holder_service, ingress_service
from dockyard.engines.docker import DockerEngine
from dockyard.plan import plan
from dockyard.plan.model import ActualTask, DesiredState, IngressDef, ProxyDef, PublicRoute
from dockyard.plan.supervisor import HEARTBEAT, SUPERVISOR_SERVICE, supervisor_service
from dockyard.supervise import supervisor_build
from tests.fixtures.load import Load, served_since

from .support import BASE_IMAGE, FETCH, Run, build_once, free_port, service, wait_for, web

pytestmark = [pytest.mark.engine, pytest.mark.fault]

PORT = 8000
BACK = 60.0
"""Seconds a killed or crashed container may take to run and answer again."""
CRASH = "import os, signal; os.kill(1, signal.SIGTERM)"
"""Run in a container of the test server: its process exits (0) as if it crashed."""
EVERY = 2.0
"""Seconds between the supervisor's full passes here, so that a test waits little
for the pass that follows a change."""
MARGIN = 1.0
"""Seconds after a container stopped by which the supervisor has decided about it
(it leaves Docker 0.2 s to restart it first)."""


@pytest.fixture(scope="session")
def supervisor_image(engine: DockerEngine, suite_run: str) -> str:
    """The supervisor image, built once for the whole run; removed by label at the end."""
    tag = f"dockyard-test/supervisor:{suite_run}"
    return build_once(engine, supervisor_build(BASE_IMAGE), tag, suite_run)


@dataclass
class Env:
    engine: DockerEngine
    client: docker.DockerClient
    desired: DesiredState
    port: int  # the ingress's public port on 127.0.0.1

    @property
    def name(self) -> str:
        return self.desired.environment

    def converge(self, desired: DesiredState | None = None, release: str = "r1") -> None:
        self.desired = desired or self.desired
        actual = self.engine.observe(self.name)
        apply(self.engine, self.desired, actual, plan(self.desired, actual), release)

    def tasks(self, service: str) -> list[ActualTask]:
        return self.engine.observe(self.name).tasks_of(service)

    def container(self, task: ActualTask, name: str | None = None) -> dict[str, Any]:
        """``docker inspect`` of the task's main container (or of the one named)."""
        wanted = next(c for c in task.containers if c.container == name) if name else task.main
        assert wanted is not None
        return dict(self.client.api.inspect_container(wanted.id))

    def supervisor_logs(self) -> str:
        (task,) = self.tasks(SUPERVISOR_SERVICE)
        assert task.main is not None
        return self.engine.logs(task.main.id, tail=200)

    def supervisor_pass_after(self, when: datetime) -> None:
        """Wait until the supervisor has made a whole pass that began after ``when``."""
        (task,) = self.tasks(SUPERVISOR_SERVICE)
        assert task.main is not None
        main_id = task.main.id

        def done() -> bool:
            code, out = self.engine.exec(main_id, ["cat", HEARTBEAT])
            return code == 0 and float(out.split()[0]) > when.timestamp()

        wait_for(done, timeout=BACK, what=f"a pass of the supervisor after {when}")


def app(web_image: str, message: str = "v1", replicas: int = 1) -> Any:
    probe = web(web_image, "probe", sidecar=True, env={"PORT": "9000"}, health=None)
    return service(
        "web",
        web(web_image, env={"MESSAGE": message}),
        probe,
        replicas=replicas,
        aliases=[],
        depends_on=["ingress"],
    )


@pytest.fixture
def make_env(
    engine: DockerEngine,
    client: docker.DockerClient,
    test_run: Run,
    web_image: str,
    ingress_image: str,
    supervisor_image: str,
) -> Callable[..., Env]:
    def make(replicas: int = 1, message: str = "v1") -> Env:
        port = free_port()
        name = test_run.environment
        holder = holder_service(name, ingress_image, port, "127.0.0.1", {"web": [PORT]})
        ingress = ingress_service(name, ingress_image, holder)
        routing = IngressDef(
            proxied=[ProxyDef(service="web", ports=[PORT], health_path="/healthz")],
            routes=[PublicRoute(service="web", port=PORT)],
        )
        supervisor = supervisor_service(name, supervisor_image, every=EVERY)
        desired = test_run.desired(holder, ingress, supervisor, app(web_image, message, replicas))
        env = Env(engine, client, desired.model_copy(update={"ingress": routing}), port)
        env.converge()
        wait_for(lambda: answers(env) == message, timeout=BACK, what="the app through the ingress")
        return env

    return make


def answers(env: Env) -> str:
    """Who answers on the ingress's public port: the replica's message."""
    with Load(env.port, max_requests=1) as load:
        bodies = served_since(load, 0, 1, timeout=5)
    return bodies[0]


def moment(text: str) -> datetime:
    """Docker's RFC 3339 time (nanoseconds, trailing zeros dropped) as a datetime."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction[:6].ljust(6, '0')}+00:00")


def started(info: dict[str, Any]) -> datetime:
    return moment(info["State"]["StartedAt"])


def sidecar_reaches_main(env: Env, task: ActualTask) -> bool:
    """The probe sidecar gets an answer from 127.0.0.1:8000, its main's port."""
    probe = next(c for c in task.containers if c.container == "probe")
    code, out = env.engine.exec(probe.id, ["python3", "-c", FETCH, f"http://127.0.0.1:{PORT}/"])
    return code == 0 and "from" in out


def back_in_namespace(env: Env, task: ActualTask, main_started: datetime) -> bool:
    """The main runs again (started after ``main_started``) and its sidecar, started
    after it, reaches it."""
    main = env.container(task)
    probe = env.container(task, "probe")
    return (
        main["State"]["Running"]
        and started(main) > main_started
        and probe["State"]["Running"]
        and started(probe) > started(main)
        and sidecar_reaches_main(env, task)
    )


def measure(load: Load) -> str:
    """Failed/total requests, and the longest run of failures."""
    total = load.served + len(load.failures)
    longest = max((end - begin for begin, end in load.outages), default=0.0)
    kinds = Counter(f.what.split(":")[1].strip()[:40] for f in load.failures if ":" in f.what)
    return f"{len(load.failures)} failed of {total} requests, longest outage {longest:.2f}s" + (
        f" ({', '.join(f'{n} {k}' for k, n in kinds.most_common(3))})" if kinds else ""
    )


# ----------------------------------------------------------------- tests


def test_a_killed_ingress_comes_back_and_serves_its_routes(make_env: Callable[..., Env]) -> None:
    env = make_env()
    (ingress,) = env.tasks("ingress")
    before = started(env.container(ingress))

    with Load(env.port) as load:
        served_since(load, 0, 50)
        mark = load.served
        env.client.containers.get(env.container(ingress)["Id"]).kill()
        wait_for(
            lambda: (
                started(env.container(ingress)) > before
                and env.container(ingress)["State"]["Running"]
            ),
            timeout=BACK,
            what="the killed ingress to run again",
        )
        served_since(load, mark, 200, timeout=BACK)  # the resumed routes serve
    print(f"\nkill of the ingress under load: {measure(load)}")

    again = env.container(ingress)
    assert again["RestartCount"] == 0  # Docker did not restart it: the supervisor did
    assert f"started {ingress.task}: it exited (137)" in env.supervisor_logs()
    assert set(load.bodies[mark:]) == {"v1"}


def test_a_killed_replica_comes_back_and_its_sidecar_reaches_it_again(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(replicas=2)
    first, second = env.tasks("web")
    before = started(env.container(first))
    assert sidecar_reaches_main(env, first)

    with Load(env.port) as load:
        served_since(load, 0, 50)
        env.client.containers.get(env.container(first)["Id"]).kill()
        wait_for(
            lambda: back_in_namespace(env, first, before),
            timeout=BACK,
            what="the killed replica to run again with its sidecar",
        )
        served_since(load, load.served, 200, timeout=BACK)
    print(f"\nkill of one of two replicas under load: {measure(load)}")

    logs = env.supervisor_logs()
    assert f"started {first.task}: it exited (137)" in logs
    assert f"restarted {first.task}-probe: {first.task} restarted" in logs
    assert second.task not in logs


def test_a_crashed_main_restarted_by_docker_gets_its_sidecar_back(
    make_env: Callable[..., Env],
) -> None:
    env = make_env()
    (task,) = env.tasks("web")
    before = started(env.container(task))
    assert task.main is not None
    env.engine.exec(task.main.id, ["python3", "-c", CRASH])

    wait_for(
        lambda: back_in_namespace(env, task, before),
        timeout=BACK,
        what="the crashed main and its sidecar in its new namespace",
    )
    assert env.container(task)["RestartCount"] == 1  # Docker's policy restarted the main
    logs = env.supervisor_logs()
    assert f"started {task.task}:" not in logs
    assert f"restarted {task.task}-probe: {task.task} restarted" in logs


def test_what_dockyard_removes_is_not_started_again(
    make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env()
    (task,) = env.tasks("web")
    api = env.engine.api
    policies: dict[str, str] = {}
    stop = api.stop

    def stop_and_see(container: str, **kwargs: Any) -> None:
        policies[container] = api.inspect_container(container)["HostConfig"]["RestartPolicy"][
            "Name"
        ]
        stop(container, **kwargs)

    monkeypatch.setattr(api, "stop", stop_and_see)
    env.engine.remove_task(task)
    monkeypatch.undo()
    assert policies == {c.id: "no" for c in task.containers}

    # A container whose policy is "no" is left stopped: the rule remove_task relies on.
    env.converge(release="r2")
    (task,) = env.tasks("web")
    main = env.container(task)
    env.client.api.update_container(main["Id"], restart_policy={"Name": "no"})
    env.client.api.stop(main["Id"], timeout=2)
    finished = moment(env.container(task)["State"]["FinishedAt"])
    env.supervisor_pass_after(finished + timedelta(seconds=MARGIN))
    assert env.container(task)["State"]["Status"] == "exited"
    assert f"started {task.task}" not in env.supervisor_logs()


def test_a_rollout_with_the_supervisor_running_is_not_disturbed(
    make_env: Callable[..., Env], web_image: str
) -> None:
    env = make_env(replicas=2)
    old = {t.task for t in env.tasks("web")}
    v2 = env.desired.model_copy(
        update={
            "services": [
                *(s for s in env.desired.services if s.name != "web"),
                app(web_image, "v2", replicas=2),
            ]
        }
    )
    with Load(env.port) as load:
        served_since(load, 0, 50)
        env.converge(v2, release="r2")
        done = datetime.now().astimezone()
        env.supervisor_pass_after(done)
        mark = load.served
        served_since(load, mark, 100)
    print(f"\nrollout of two replicas with the supervisor running: {measure(load)}")

    assert load.failures == []
    assert set(load.bodies[mark:]) == {"v2"}
    assert not old & {t.task for t in env.tasks("web")}
    assert not env.client.containers.list(all=True, filters={"name": sorted(old)})
    logs = env.supervisor_logs()
    assert not [name for name in old if name in logs], logs


def test_a_killed_supervisor_shows_in_the_plan_and_a_deploy_brings_it_back(
    make_env: Callable[..., Env],
) -> None:
    env = make_env()
    (supervisor,) = env.tasks(SUPERVISOR_SERVICE)
    env.client.containers.get(env.container(supervisor)["Id"]).kill()
    wait_for(
        lambda: not env.container(supervisor)["State"]["Running"],
        what="the supervisor to stop",
    )

    steps = plan(env.desired, env.engine.observe(env.name))
    (step,) = steps.changes
    assert (step.name, step.action) == (SUPERVISOR_SERVICE, "replace")
    assert step.reason is not None and step.reason.startswith("supervisor exited"), step.reason

    env.converge(release="r2")
    (again,) = env.tasks(SUPERVISOR_SERVICE)
    assert again.running
    assert plan(env.desired, env.engine.observe(env.name)).empty


def test_a_supervisor_that_starts_again_catches_up_with_what_stopped_meanwhile(
    make_env: Callable[..., Env],
) -> None:
    """What a daemon restart does to the supervisor: Docker starts it again (``always``)
    and its first pass finds what Docker did not restart."""
    env = make_env()
    (supervisor,) = env.tasks(SUPERVISOR_SERVICE)
    (task,) = env.tasks("web")
    before = started(env.container(task))
    env.client.api.stop(env.container(supervisor)["Id"], timeout=5)
    env.client.containers.get(env.container(task)["Id"]).kill()
    wait_for(lambda: env.container(task)["State"]["Status"] == "exited", what="web to stop")

    env.client.api.start(env.container(supervisor)["Id"])
    wait_for(
        lambda: back_in_namespace(env, task, before),
        timeout=BACK,
        what="web and its sidecar, started by the supervisor's first pass",
    )
