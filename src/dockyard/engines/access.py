"""``ContainerAccess``: a way into one running container, by its ID.

The ingress is driven through it (a program run in Caddy's container talks to
its admin API), and ``status`` quotes a failing container's last log lines.

``ContainerLogs``: every container's output with the engine's timestamps, for
``dockyard logs``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

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
