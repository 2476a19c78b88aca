"""``ContainerAccess``: a way into one running container, by its ID.

The ingress is driven through it (a program run in Caddy's container talks to
its admin API), and ``status`` quotes a failing container's last log lines.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


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
