"""The errors every engine raises the same way, whatever its driver."""

from __future__ import annotations

from dockyard.errors import DeployError, EngineError


class TaskNotReady(DeployError):
    """A started task did not become ready: a container exited, kept restarting,
    turned unhealthy, or the deadline passed.

    ``container`` names the failing container and ``logs`` holds its last log
    lines (also quoted in the message).
    """

    code = "DY501"

    def __init__(
        self, message: str, *, container: str, logs: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.container = container
        self.logs = logs


class EngineUnsupported(EngineError):
    """The engine cannot do what was asked: it lacks that capability altogether
    (see :mod:`dockyard.engines.capabilities`), as opposed to failing at it.

    ``engine`` names the engine and ``capability`` what it lacks.
    """

    code = "DY302"

    def __init__(self, message: str, *, engine: str, capability: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.engine = engine
        self.capability = capability
