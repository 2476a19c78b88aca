"""Waiting for a started task to become ready, and explaining why it did not.

A task is ready when every container runs, the main container is healthy (or
has no health check), and every container without a passing health check has
stayed up for MIN_UPTIME: a process that dies right after it starts is still
"running" at the first look.
It has failed when a container exits, keeps restarting, or the main turns
unhealthy; or when the deadline passes first.
The error names the container, what happened, the last output of its health
check, and its last log lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from dockyard.engines.errors import TaskNotReady
from dockyard.engines.model import ProgressFn
from dockyard.errors import DockyardError
from dockyard.plan.model import ActualContainer, ActualTask
from dockyard.plan.probes import NO_TOOL_EXIT

POLL_INTERVAL = 0.2
MAX_RESTARTS = 2
"""Restarts tolerated since creation (a service that waits for a dependency by crashing)."""
LOG_LINES = 20
MIN_UPTIME = 1.0
"""Seconds every container must stay up (without restarting) before a task counts as ready."""


@dataclass(frozen=True)
class Seen:
    """What one inspect says about one container."""

    container: ActualContainer
    status: str
    health: str | None
    exit_code: int
    restarts: int
    oom_killed: bool
    health_output: str | None
    health_exit: int | None = None  # the last health check's exit code

    @property
    def check_cannot_run(self) -> bool:
        """Whether the health check's program cannot be started at all (it does not
        exist in the image): waiting longer will not help."""
        output = self.health_output or ""
        if self.health_exit == -1:
            return "exec failed" in output or "executable file not found" in output
        # A shell's "command not found", or a probe that found none of its tools.
        return self.health_exit == NO_TOOL_EXIT

    @property
    def summary(self) -> str:
        if self.health and self.status == "running":
            return f"running, health: {self.health}"
        return self.status


def inspect(api: docker.APIClient, container: ActualContainer) -> Seen | None:
    try:
        info: Mapping[str, Any] = api.inspect_container(container.id)
    except docker.errors.NotFound:
        return None
    state: Mapping[str, Any] = info.get("State") or {}
    health: Mapping[str, Any] = state.get("Health") or {}
    checks: list[Mapping[str, Any]] = health.get("Log") or []
    return Seen(
        container=container,
        status=str(state.get("Status") or "unknown"),
        health=health.get("Status") or None,
        exit_code=int(state.get("ExitCode") or 0),
        restarts=int(info.get("RestartCount") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        health_output=str(checks[-1].get("Output") or "").strip() if checks else None,
        health_exit=int(checks[-1].get("ExitCode", 0)) if checks else None,
    )


def inspect_all(api: docker.APIClient, task: ActualTask, when: str) -> list[Seen]:
    """Every container of ``task``; TaskNotReady when one is gone."""
    seen = []
    for container in task.containers:
        now = inspect(api, container)
        if now is None:
            raise TaskNotReady(
                f"task {task.task}: container {container.name} was removed {when}",
                container=container.name,
            )
        seen.append(now)
    return seen


def wait_ready(
    api: docker.APIClient,
    task: ActualTask,
    timeout: float,
    progress: ProgressFn,
    logs: Callable[[str, int], str],
) -> None:
    """Poll until ``task`` is ready; raise TaskNotReady when it fails or time runs out."""
    deadline = time.monotonic() + timeout
    if not task.containers:
        raise TaskNotReady(f"task {task.task} has no containers", container=task.task)
    last_summary: dict[str, str] = {}
    up_since: dict[str, tuple[int, float]] = {}  # name -> (restart count, first seen running)
    while True:
        seen = inspect_all(api, task, "while starting")
        for s in seen:
            name = s.container.name
            if last_summary.get(name) != s.summary:
                last_summary[name] = s.summary
                progress(f"{name}: {s.summary}")
            # Counted from creation: a task is waited for right after it starts.
            failure = _failure(
                s, s.restarts, sidecars=any(o.container.role == "sidecar" for o in seen)
            )
            if failure:
                raise _not_ready(task, s, failure, logs)
            if s.status != "running":
                up_since.pop(name, None)
            elif up_since.get(name, (-1, 0.0))[0] != s.restarts:
                up_since[name] = (s.restarts, time.monotonic())
        main = next((s for s in seen if s.container.role == "main"), seen[0])
        # A passing health check already shows the process survived its start;
        # containers without one must stay up for MIN_UPTIME.
        settled = all(
            s.container.name in up_since
            and (
                (s is main and s.health == "healthy")
                or time.monotonic() - up_since[s.container.name][1] >= MIN_UPTIME
            )
            for s in seen
        )
        if settled and main.health in (None, "healthy"):
            progress(f"{task.task}: ready")
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            waiting = next((s for s in seen if s.status != "running"), main)
            raise _not_ready(
                task,
                waiting,
                f"did not become ready within {timeout:g}s (it is {waiting.summary})",
                logs,
            )
        time.sleep(min(POLL_INTERVAL, remaining))


def check_ready(api: docker.APIClient, task: ActualTask, logs: Callable[[str, int], str]) -> None:
    """Raise TaskNotReady when ``task``, which was ready, has failed since: a
    container is gone, stopped or restarted, or the main is unhealthy."""
    for s in inspect_all(api, task, "after it was ready"):
        container = s.container
        # A health check starts over when its container restarts: the main was
        # healthy when the task was ready, so "starting" again means it died since.
        main = container.role == "main"
        restarted = (
            s.status == "restarting"
            or (main and s.health == "starting")
            or s.restarts > MAX_RESTARTS
        )
        if s.status != "running" or restarted:
            what = "restarted" if restarted else "stopped"
            oom = " (killed: out of memory)" if s.oom_killed else ""
            raise _not_ready(
                task, s, f"{what} (exit code {s.exit_code}){oom} after it was ready", logs
            )
        if main and s.health == "unhealthy":
            raise _not_ready(task, s, "turned unhealthy after it was ready", logs)


def _failure(s: Seen, restarts: int, *, sidecars: bool) -> str | None:
    oom = " (killed: out of memory)" if s.oom_killed else ""
    if s.status in ("exited", "dead"):
        return f"exited with code {s.exit_code}{oom}"
    if sidecars and s.container.role == "main" and (restarts or s.status == "restarting"):
        # A restarted main gets a new network namespace; its sidecars keep the old one.
        return (
            f"restarted (exit code {s.exit_code}){oom}, which cuts its sidecars off "
            "from the network namespace they share with it"
        )
    if restarts > MAX_RESTARTS:
        return f"keeps restarting ({restarts} restarts, last exit code {s.exit_code}){oom}"
    if s.container.role == "main" and s.health == "unhealthy":
        return "is unhealthy"
    if s.check_cannot_run:
        return "has a health check that cannot run (its program is not in the image)"
    return None


def _not_ready(
    task: ActualTask, s: Seen, what: str, logs: Callable[[str, int], str]
) -> TaskNotReady:
    name = s.container.name
    lines = [f"{task.service} replica {task.replica}: {s.container.role} container {name} {what}"]
    if s.health_output is not None:
        lines.append(f"last health check output: {s.health_output or '(none)'}")
    try:
        tail = logs(s.container.id, LOG_LINES).rstrip("\n")
    except DockyardError as e:  # the container may be gone; the failure still stands
        tail = f"(no logs: {e.message})"
    lines.append(f"last {LOG_LINES} log lines of {name}:")
    lines.extend(f"  {line}" for line in tail.splitlines() or ["(none)"])
    return TaskNotReady(
        "\n".join(lines),
        container=name,
        logs=tail,
        hint=(
            "Fix what the log lines above show (or the health check), or give the service "
            "more time with deploy.health_timeout, then deploy again."
        ),
    )
