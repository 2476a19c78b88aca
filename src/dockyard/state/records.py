"""Values the state store returns: releases, task runs and deploy locks.

Every time is an aware UTC datetime read from the database's clock (see
docs/state.md). None of these values ever carries a secret.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from dockyard.errors import StateError
from dockyard.state.identity import actor as current_actor
from dockyard.state.liveness import Liveness, judge, pid_space, start_time

ReleaseKind = Literal["deploy", "rollback", "promote", "adopt"]
ReleaseStatus = Literal["running", "succeeded", "failed", "interrupted"]
FinalStatus = Literal["succeeded", "failed", "interrupted"]
TaskStatus = Literal["succeeded", "failed", "timed-out"]

RELEASE_KINDS: tuple[ReleaseKind, ...] = ("deploy", "rollback", "promote", "adopt")
RELEASE_STATUSES: tuple[ReleaseStatus, ...] = ("running", "succeeded", "failed", "interrupted")
FINAL_STATUSES: tuple[FinalStatus, ...] = ("succeeded", "failed", "interrupted")
TASK_STATUSES: tuple[TaskStatus, ...] = ("succeeded", "failed", "timed-out")


T = TypeVar("T", bound=str)


def checked(value: str, allowed: tuple[T, ...], what: str) -> T:
    """``value`` read from the store, as one of the ``allowed`` literals."""
    for option in allowed:
        if value == option:
            return option
    raise StateError(f"the state store holds an unknown {what} {value!r}")


def utc(timestamp: float) -> datetime:
    """A unix timestamp (seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, tz=UTC)


@dataclass(frozen=True)
class ReleaseService:
    """One service as a release deployed it."""

    name: str
    image: str  # the full reference run: ``repo@sha256:...`` or a local image ID
    digest: str | None = None
    commit: str | None = None
    dirty: bool = False
    params_commit: str | None = None
    spec_hash: str | None = None


@dataclass(frozen=True)
class Release:
    """One numbered change of an environment: a deploy, a rollback, a promotion, or
    the adoption of what ran when a new history began (``adopt``)."""

    env: str
    number: int
    kind: ReleaseKind
    status: ReleaseStatus
    actor: str
    started_at: datetime
    finished_at: datetime | None
    duration: float | None  # seconds, once finished
    source: str | None  # ``staging#12`` for a promotion, ``#10`` for a rollback
    services: tuple[ReleaseService, ...]
    plan: dict[str, Any] | None = None
    desired: dict[str, Any] | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """``<env>#<number>``, how a release is named to a user."""
        return f"{self.env}#{self.number}"

    def service(self, name: str) -> ReleaseService | None:
        return next((s for s in self.services if s.name == name), None)


@dataclass(frozen=True)
class TaskRun:
    """One run of a one-off task (a migration, a seed) of a service."""

    id: int
    env: str
    release: int | None
    service: str
    task: str
    command: tuple[str, ...]
    digest: str  # the image the task ran
    definition_hash: str  # hash of the task's definition (command, env, mounts ...)
    status: TaskStatus
    exit_code: int | None
    started_at: datetime
    duration: float
    log_tail: str


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or asks for) a deploy lock. ``started`` (the process's start in
    clock ticks after boot) and ``space`` (where its pid means something) let a
    process on the same host tell whether the holder still runs; None for holders
    recorded without them, which only their lease can free."""

    actor: str
    host: str
    pid: int
    command: str  # what the holder is doing: ``release``, ``rollback`` ...
    started: int | None = None
    space: str | None = None

    @classmethod
    def current(cls, command: str, actor: str | None = None) -> LockHolder:
        """This process, doing ``command``; the actor defaults to :func:`actor`."""
        pid = os.getpid()
        return cls(
            actor=actor or current_actor(),
            host=socket.gethostname(),
            pid=pid,
            command=command,
            started=start_time(pid),
            space=pid_space(),
        )

    def liveness(self) -> Liveness:
        """Whether this holder's process runs, as far as this process can tell."""
        return judge(self.pid, self.started, self.space)

    def describe(self) -> str:
        return f"{self.actor} (host {self.host}, pid {self.pid}, command {self.command!r})"


@dataclass(frozen=True)
class Lock:
    """A deploy lock this process holds; the token proves it when renewing or releasing."""

    env: str
    holder: LockHolder
    lease: float
    started_at: datetime
    expires_at: datetime
    token: str = field(repr=False)
    took_over: LockInfo | None = None  # the dead holder this lock was taken from


@dataclass(frozen=True)
class LockInfo:
    """A deploy lock as anyone can see it. ``checked_at`` is the database's time of
    the look; ``expired`` means its lease had run out by then (the holder is gone
    or stuck), so the next ``acquire_lock`` takes it over. ``liveness`` is what the
    reading process could tell about the holder's process: on the same host, a
    dead holder's lock is taken over at once, lease or not."""

    env: str
    holder: LockHolder
    started_at: datetime
    expires_at: datetime
    checked_at: datetime
    expired: bool
    liveness: Liveness = field(default_factory=lambda: Liveness(None, "not judged"))

    @property
    def expires_in(self) -> float:
        """Seconds left on the lease when it was looked at (negative once expired)."""
        return (self.expires_at - self.checked_at).total_seconds()
