"""``ContainerAccess``: a way into one running container, by its ID.

The ingress is driven through it (a program run in Caddy's container talks to
its admin API), and ``status`` quotes a failing container's last log lines.

``Attaching`` is an optional ability beside it: a command run with the caller's
input, output and terminal attached (``dockyard exec``), and what one
container's inspect tells (``dockyard status``: since when it runs, its image).

``ContainerLogs``: every container's output with the engine's timestamps, for
``dockyard logs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

from dockyard.engines.model import LogDriverInfo, LogLine, LogSource, LogWindow


@runtime_checkable
class ContainerAccess(Protocol):
    """Run a short command in a container, and read its logs."""

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        """Run ``argv`` in the running container ``container_id`` (no terminal, no
        input) and return its exit code and its output (stdout and stderr together).
        For short commands: the engine's operation timeout bounds the wait."""
        ...

    def logs(self, container_id: str, tail: int = 20) -> str:
        """The last ``tail`` lines a container wrote (stdout and stderr together)."""
        ...


@dataclass(frozen=True)
class Terminal:
    """The caller's side of an attached command. With ``tty``, the command gets a
    terminal (the caller has put its own in raw mode) of ``size()`` (rows,
    columns), followed as it changes; without, its output comes as two streams.
    ``stdin`` is forwarded until its end; None gives the command no input."""

    stdin: BinaryIO | None
    stdout: BinaryIO
    stderr: BinaryIO
    tty: bool = False
    size: Callable[[], tuple[int, int]] | None = None


@dataclass(frozen=True)
class ContainerDetails:
    """What an inspect of one container tells beyond the engine's list."""

    started: datetime | None  # when it last started; None when it never did
    image_id: str  # the image it runs (sha256:...)
    image_digests: list[str]  # that image's registry digests (repo@sha256:...), if any
    restarts: int = 0  # restarts by the engine's restart policy
    health_output: str | None = None  # the last health check's output


@runtime_checkable
class Attaching(Protocol):
    """Run a command attached to the caller, and inspect one container."""

    def attach(self, container_id: str, argv: list[str], io: Terminal) -> int:
        """Run ``argv`` in the running container with ``io`` attached, for as long as
        it runs; returns its exit code."""
        ...

    def details(self, container_id: str) -> ContainerDetails | None:
        """What an inspect tells of the container; None when it is gone."""
        ...


@runtime_checkable
class ContainerLogs(Protocol):
    """The output of an environment's containers, line by line with the engine's
    timestamps, and the containers that start while it is read."""

    def log_sources(self, environment: str) -> list[LogSource]:
        """Every container of ``environment`` that writes output (secrets keepers,
        which print nothing, are left out), running or exited."""
        ...

    def read_log(self, source: LogSource, window: LogWindow, follow: bool) -> Iterator[LogLine]:
        """The lines ``source`` wrote in ``window``, oldest first, stdout and stderr
        apart. ``follow`` goes on with the lines it writes until it stops; a
        container removed meanwhile ends the lines, never an error."""
        ...

    def started_sources(self, environment: str, since: int) -> SourceWatch:
        """The containers of ``environment`` that start from ``since`` (nanoseconds
        since the epoch) on, as the engine reports them, until closed."""
        ...

    def log_driver(self, source: LogSource) -> LogDriverInfo:
        """The log driver ``source`` writes through, and whether the engine keeps
        its lines locally, where :meth:`read_log` reads them."""
        ...


class SourceWatch(Protocol):
    """An open stream of starting containers; ``close`` ends it from any thread."""

    def __iter__(self) -> Iterator[LogSource]: ...

    def close(self) -> None: ...
