"""Running a one-off task (a migration, an ad-hoc command) in a container of its own.

The container joins the environment's network without the service's alias: it
reaches accessories and services by name, and never receives their traffic. It
has no published ports, no health check and no restart policy.

Two threads watch it: one reads the engine's log stream (stdout and stderr, in
the order the engine recorded them), one waits for the exit. Both report to a
queue that the caller's thread drains, so ``output`` gets each line on the
caller's thread as soon as it is written. At ``task.timeout`` seconds after the
start the container is killed (SIGKILL). It is removed whatever happens:
success, failure, timeout, an engine error, or an interrupt of the caller.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial

import docker
import docker.errors

from dockyard.engines.docker import run
from dockyard.engines.docker import secrets as delivery
from dockyard.engines.docker.connection import is_conflict, translate_errors
from dockyard.engines.docker.labels import oneoff_labels
from dockyard.engines.model import NO_SECRETS, OneOffResult, ProgressFn, SecretValues
from dockyard.plan.model import (
    LABEL_ENV,
    LABEL_KIND,
    LABEL_ROLE,
    LABEL_WHEN,
    DesiredState,
    OneOffDef,
)

TAIL_LINES = 50
"""Output lines kept in ``OneOffResult.log_tail``."""
KILLED = 137
"""The exit code of a process killed with SIGKILL (128 + 9)."""
DRAIN_SECONDS = 5.0
"""How long the last output (or the exit after a kill) may trail before it is given up on."""
WAKE_SECONDS = 0.5
"""The longest the caller's thread sleeps at a time, so an interrupt is never held up."""
MAX_LINE = 64 * 1024
"""Bytes after which output without a newline is passed on as a line of its own."""


def oneoff_name(environment: str, service: str, task: str) -> str:
    """``<env>-<service>-task-<task>-<random>``: every run gets a container of its own."""
    return f"{environment}-{service}-task-{task}-{secrets.token_hex(3)}"


def create_args(
    api: docker.APIClient, desired: DesiredState, task: OneOffDef, release: str, name: str
) -> run.CreateArgs:
    args = run.container_args(
        api,
        task.container,
        name=name,
        labels=oneoff_labels(desired, task, release),
        network_mode=desired.network,
    )
    args["healthcheck"] = {"test": ["NONE"]}  # also switches off one the image declares
    args["networking_config"] = {"EndpointsConfig": {desired.network: {}}}  # no alias
    return args


def run_oneoff(
    api: docker.APIClient,
    address: str,
    desired: DesiredState,
    task: OneOffDef,
    release: str,
    output: ProgressFn,
    secrets: SecretValues = NO_SECRETS,
) -> OneOffResult:
    """Run ``task`` to its end (or its timeout) and remove its container (and the
    keeper of its secrets, which start before it).

    The network and the volumes it mounts must exist.
    """
    name = oneoff_name(desired.environment, task.service, task.name)
    container = task.container
    with translate_errors(address, f"run task {task.name} of {task.service}"):
        args = create_args(api, desired, task, release, name)
        fill: Callable[[str], None] | None = None
        try:
            if container.secrets:
                labels = oneoff_labels(desired, task, release)
                keeper = delivery.prepare(api, desired, name, [container], secrets, labels)
                delivery.attach(args, name, container, secrets)
                fill = partial(delivery.fill, api, keeper, container, values=secrets)
            result = _run(api, args, desired.environment, task.timeout, output, fill)
        except BaseException:
            # By name: an interrupt may come before the create call returned an id.
            with suppress(Exception):  # the first error is the one to report
                _remove(api, name)
            raise
        _remove(api, name)
    return result


def _remove(api: docker.APIClient, name: str) -> None:
    """Remove a one-off task's container, its secrets' keeper and volumes."""
    run.force_remove(api, name)
    run.force_remove(api, delivery.keeper_name(name))
    delivery.remove_volumes(api, name)


# ------------------------------------------------------------------ watching


@dataclass(frozen=True)
class _Line:
    text: str


@dataclass(frozen=True)
class _LogsEnded:
    pass


@dataclass(frozen=True)
class _Exited:
    code: int
    at: float  # time.monotonic()


@dataclass(frozen=True)
class _Failed:
    error: Exception


_Event = _Line | _LogsEnded | _Exited | _Failed


def _run(
    api: docker.APIClient,
    args: run.CreateArgs,
    environment: str,
    timeout: float,
    output: ProgressFn,
    fill: Callable[[str], None] | None = None,
) -> OneOffResult:
    container_id = run.create(api, args, environment)
    if fill is not None:
        fill(container_id)
    api.start(container_id)
    started = time.monotonic()
    events: queue.Queue[_Event] = queue.Queue()
    stream = api.logs(container_id, stdout=True, stderr=True, stream=True, follow=True)
    try:
        # Daemon threads: both end once the container is removed, and neither may keep
        # an interrupted process alive.
        threading.Thread(target=_read_lines, args=(stream, events), daemon=True).start()
        threading.Thread(target=_wait_exit, args=(api, container_id, events), daemon=True).start()
        watch = _Watch()
        watch.follow(api, container_id, events, started + timeout, output)
    finally:
        stream.close()
    ended = watch.exited.at if watch.exited else time.monotonic()
    return OneOffResult(
        exit_code=KILLED if watch.timed_out or watch.exited is None else watch.exited.code,
        timed_out=watch.timed_out,
        log_tail="\n".join(watch.tail),
        seconds=round(ended - started, 3),
        container=str(args["name"]),
    )


@dataclass
class _Watch:
    """What the caller's thread has learnt about the running task so far."""

    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    exited: _Exited | None = None
    logs_ended: bool = False
    timed_out: bool = False

    def follow(
        self,
        api: docker.APIClient,
        container_id: str,
        events: queue.Queue[_Event],
        deadline: float,
        output: ProgressFn,
    ) -> None:
        """Pass lines on until the task exits and its output ends; kill it at ``deadline``."""
        wait_until = deadline
        while self.exited is None or not self.logs_ended:
            remaining = wait_until - time.monotonic()
            try:
                event = events.get(timeout=min(max(0.0, remaining), WAKE_SECONDS))
            except queue.Empty:
                if remaining > WAKE_SECONDS:
                    continue
                if self.exited is None and not self.timed_out:
                    self.timed_out = _kill(api, container_id)
                    wait_until = time.monotonic() + DRAIN_SECONDS
                    continue
                return  # the last output, or the exit after a kill, trails too long
            if isinstance(event, _Line):
                self.tail.append(event.text)
                output(event.text)
            elif isinstance(event, _LogsEnded):
                self.logs_ended = True
            elif isinstance(event, _Exited):
                self.exited = event
                wait_until = min(wait_until, time.monotonic() + DRAIN_SECONDS)
            else:
                raise event.error


def _kill(api: docker.APIClient, container_id: str) -> bool:
    """SIGKILL the container; False when it had already ended on its own."""
    try:
        api.kill(container_id)
    except docker.errors.APIError as e:
        if is_conflict(e):  # "is not running": it exited just before the deadline
            return False
        raise
    return True


def _read_lines(stream: Iterable[bytes], events: queue.Queue[_Event]) -> None:
    lines = _LineSplitter()
    try:
        for chunk in stream:
            for line in lines.feed(chunk):
                events.put(_Line(line))
    except Exception as e:  # also a stream closed by ``_run``; then nobody listens
        events.put(_Failed(e))
        return
    for line in lines.flush():
        events.put(_Line(line))
    events.put(_LogsEnded())


def _wait_exit(api: docker.APIClient, container_id: str, events: queue.Queue[_Event]) -> None:
    try:
        status = api.wait(container_id, timeout=None)
    except Exception as e:
        events.put(_Failed(e))
        return
    events.put(_Exited(int(status.get("StatusCode", -1)), time.monotonic()))


class _LineSplitter:
    """Turns the stream's chunks (not always whole lines) into lines of text."""

    def __init__(self) -> None:
        self.partial = b""

    def feed(self, chunk: bytes) -> list[str]:
        *complete, self.partial = (self.partial + chunk).split(b"\n")
        if len(self.partial) > MAX_LINE:
            complete.append(self.partial)
            self.partial = b""
        return [_text(line) for line in complete]

    def flush(self) -> list[str]:
        rest, self.partial = self.partial, b""
        return [_text(rest)] if rest else []


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r")


def remove_oneoffs(
    api: docker.APIClient, address: str, environment: str, deploy_only: bool
) -> list[str]:
    """Remove the one-off task containers of ``environment`` (left by a killed run);
    with ``deploy_only``, just those of before- and after-deploy tasks."""
    labels = [f"{LABEL_ENV}={environment}", f"{LABEL_KIND}=task"]
    filters = {"label": labels}
    removed: list[str] = []
    with translate_errors(address, f"remove the leftover tasks of {environment}"):
        for info in api.containers(all=True, filters=filters):
            if deploy_only and (info.get("Labels") or {}).get(LABEL_WHEN) == "manual":
                continue
            name = str((info.get("Names") or [info["Id"]])[0]).lstrip("/")
            with suppress(docker.errors.NotFound):
                api.remove_container(info["Id"], force=True, v=True)
            if (info.get("Labels") or {}).get(LABEL_ROLE) == "task":
                removed.append(name)
        for name in removed:  # their keepers are gone too: nothing holds the volumes
            delivery.remove_volumes(api, name)
    return removed
