"""``dockyard run``: a one-off container with what a service runs now.

The image, env, volumes and tasks come from the release that runs (its recorded
desired state), so a task runs against exactly the code that serves. Named
tasks take the deploy lock (two migrations never run at once); an ad-hoc
command does not. Every run is recorded with its exit code and log tail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from dockyard.deploy import secret_values
from dockyard.deploy.history import check_history
from dockyard.deploy.release import deploy_lock
from dockyard.deploy.target import Target
from dockyard.deploy.tasks import Runner
from dockyard.engines.model import OneOffResult
from dockyard.errors import DeployError
from dockyard.events import Reporter
from dockyard.plan.model import DesiredState, OneOffDef, ServiceDef
from dockyard.state import Release


def run_task(
    target: Target,
    service: str,
    task: str | None,
    command: Sequence[str] = (),
    *,
    timeout: float | None = None,
    wait: float | None = None,
    report: Reporter,
) -> OneOffResult:
    """Run ``task`` of ``service`` (or ``command`` with its image and env)."""
    if (task is None) == (not command):
        raise DeployError(
            "name a task or give a command after --, not both",
            hint="dockyard run ENV SERVICE TASK, or dockyard run ENV SERVICE -- CMD ...",
        )
    check_history(target.engine, target.env.name, target.store)
    current, desired, svc = _running(target, service)
    oneoff = _oneoff(svc, task, command)
    if timeout is not None:
        oneoff = oneoff.model_copy(update={"timeout": timeout})
    secrets = secret_values.read_values(target.env, oneoff.container.secrets)
    runner = Runner(target.engine, target.store, desired, report, secrets)
    with _maybe_locked(target, task is not None, wait):
        return runner.run(oneoff, current.number)


def _running(target: Target, service: str) -> tuple[Release, DesiredState, ServiceDef]:
    env = target.env.name
    current = target.store.last_succeeded(env)
    desired = DesiredState.model_validate(current.desired) if current and current.desired else None
    svc = next((s for s in desired.services if s.name == service), None) if desired else None
    if current is None or desired is None or svc is None:
        raise DeployError(
            f"{service} has no succeeded release in {env} to take its image and env from",
            hint=f"release it first: dockyard release {env} {service}",
        )
    return current, desired, svc


def _oneoff(svc: ServiceDef, task: str | None, command: Sequence[str]) -> OneOffDef:
    if task is not None:
        found = svc.task_named(task)
        if found is None:
            names = ", ".join(t.name for t in svc.tasks) or "none"
            raise DeployError(
                f"{svc.name} has no task {task!r} in the release that runs",
                hint=f"its tasks: {names}; or run a command: dockyard run ENV {svc.name} -- CMD",
            )
        return found
    main = svc.task.main
    container = main.model_copy(
        update={"name": "run", "command": list(command), "ports": [], "health": None}
    )
    return OneOffDef(service=svc.name, name="run", container=container, timeout=3600.0)


@contextlib.contextmanager
def _maybe_locked(target: Target, lock: bool, wait: float | None) -> Iterator[None]:
    if not lock:
        yield
        return
    with deploy_lock(target, "run", wait):
        yield
