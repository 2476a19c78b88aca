"""The errors every engine raises the same way, whatever its driver."""

from __future__ import annotations

from dockyard.errors import DeployError


class TaskNotReady(DeployError):
    """A started task did not become ready: a container exited, kept restarting,
    turned unhealthy, or the deadline passed.

    ``container`` names the failing container and ``logs`` holds its last log
    lines (also quoted in the message).
    """

    def __init__(
        self, message: str, *, container: str, logs: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.container = container
        self.logs = logs
