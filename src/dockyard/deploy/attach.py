"""Which container ``dockyard exec`` runs a command in: a replica of a service or
accessory, the first healthy one unless one is named, and its main container
unless another of the task's containers is named."""

from __future__ import annotations

from dockyard.engines.environment import Environments
from dockyard.errors import DeployError
from dockyard.plan.model import ActualContainer, ActualTask
from dockyard.spec.hints import did_you_mean
from dockyard.spec.loaded import LoadedEnvironment


class NoSuchTarget(DeployError):
    """No service, replica or container of that name runs in the environment."""

    code = "DY520"


class NothingRuns(DeployError):
    """The service exists but none of its replicas runs."""

    code = "DY521"


def target(
    engine: Environments,
    env: LoadedEnvironment,
    service: str,
    replica: int | None = None,
    container: str | None = None,
) -> tuple[ActualTask, ActualContainer]:
    """The task and the container of ``service`` to run a command in."""
    actual = engine.observe(env.name)
    known = {
        *env.spec.accessories,
        *(s.name for s in env.services),
        *(t.service for t in actual.tasks),
    }
    if service not in known:
        raise NoSuchTarget(
            f"environment {env.name} has no service or accessory named {service}",
            hint=did_you_mean(service, known, listing="it has"),
        )
    tasks = actual.tasks_of(service)
    if replica is not None:
        chosen = [t for t in tasks if t.replica == replica]
        if not chosen:
            have = ", ".join(str(t.replica) for t in tasks) or "none"
            raise NoSuchTarget(
                f"{service} has no replica {replica}",
                hint=f"its replicas: {have}; name one with --replica N",
            )
        tasks = chosen
    running = [t for t in tasks if t.main is not None and t.main.status == "running"]
    if not running:
        states = ", ".join(
            f"replica {t.replica} {t.main.condition if t.main else 'missing'}" for t in tasks
        )
        raise NothingRuns(
            f"no replica of {service} runs in {env.name}" + (f" ({states})" if states else ""),
            hint=f"`dockyard status {env.name}` shows why; `dockyard deploy {env.name}` starts it",
        )
    task = next((t for t in running if t.healthy), running[0])
    names = [c.container for c in task.containers if c.role != "keeper"]
    wanted = container or (task.main.container if task.main else names[0])
    found = next((c for c in task.containers if c.container == wanted and c.role != "keeper"), None)
    if found is None:
        raise NoSuchTarget(
            f"replica {task.replica} of {service} has no container named {wanted}",
            hint=did_you_mean(wanted, names, listing="its containers"),
        )
    if found.status != "running":
        raise NothingRuns(
            f"container {found.container} of {service} replica {task.replica} is {found.condition}",
            hint=f"`dockyard status {env.name}` shows its last log lines",
        )
    return task, found
