"""Errors of the state store, all in the DY600 family.

| code  | error              | when |
|-------|--------------------|------|
| DY600 | StateError         | the database failed a query, or a record conflicts |
| DY601 | LockHeld           | another live process holds the environment's deploy lock |
| DY602 | LockLost           | this process's lock lease ran out and was taken over |
| DY603 | ReleaseNotFound    | no release with that number in that environment |
| DY604 | StateSchemaTooNew  | the store was migrated by a newer Dockyard |
| DY605 | StateUnreachable   | the database cannot be opened or connected to |
| DY606 | StateConfigError   | ``state:`` settings are invalid (URL, password variable) |
| DY607 | HistoryMissing     | the store has no history of an environment whose releases run |
| DY608 | StoreMissing       | a command that only reads found no store (not created for it) |
"""

from __future__ import annotations

from datetime import datetime

from dockyard.errors import StateError
from dockyard.state.records import LockInfo

__all__ = [
    "HistoryMissing",
    "LockHeld",
    "LockLost",
    "ReleaseNotFound",
    "StateConfigError",
    "StateError",
    "StateSchemaTooNew",
    "StateUnreachable",
    "StoreMissing",
]


def when(moment: datetime) -> str:
    """A lock or release time as a user reads it: UTC, to the second."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _lease(info: LockInfo) -> str:
    left = info.expires_in
    if left <= 0:
        return f"its lease expired at {when(info.expires_at)}"
    return f"its lease expires at {when(info.expires_at)} (in {left:.0f}s)"


class LockHeld(StateError):
    """Another process holds the deploy lock of the environment and its lease is live."""

    code = "DY601"

    def __init__(self, info: LockInfo, *, waited: float | None = None) -> None:
        waited_text = f" after waiting {waited:g}s" if waited else ""
        super().__init__(
            f"environment {info.env!r} is locked{waited_text}: held by "
            f"{info.holder.describe()} since {when(info.started_at)}; {_lease(info)}",
            hint=(
                f"wait for it with --wait, or, if that process is dead, free the lock with "
                f"`dockyard lock release {info.env}`"
            ),
        )
        self.info = info


class LockLost(StateError):
    """The lease of a lock this process held ran out and another process took it over."""

    code = "DY602"

    def __init__(self, env: str, reason: str, *, now_held_by: LockInfo | None = None) -> None:
        holder = f"; it is now held by {now_held_by.holder.describe()}" if now_held_by else ""
        super().__init__(
            f"lost the deploy lock of environment {env!r}: {reason}{holder}",
            hint=(
                "stop and look at what the other process did before deploying again "
                f"(`dockyard lock status {env}`, `dockyard history {env}`); a longer "
                "lock.lease in the environment file tolerates slower renewals"
            ),
        )
        self.env = env


class ReleaseNotFound(StateError):
    code = "DY603"


class StateSchemaTooNew(StateError):
    code = "DY604"


class StateUnreachable(StateError):
    code = "DY605"


class StateConfigError(StateError):
    code = "DY606"


class StoreFull(StateError):
    """The disk (or database) under the store has no room for a write; the write
    was rolled back whole."""

    code = "DY609"


class StoreMissing(StateError):
    """There is no store where one is expected: no file, an empty file, or a
    database without Dockyard's tables. Raised instead of creating one when the
    caller asked not to (``open_store(..., create=False)``)."""

    code = "DY608"

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(
            f"there is no state store at {location}: {reason}",
            hint="the first release creates it; if it was lost, restore it from a backup",
        )
        self.store = location
        self.reason = reason


class HistoryMissing(StateError):
    """The store has no release of an environment whose releases the engine runs:
    the history was lost (a deleted or emptied file, another database). Writing
    now would start the numbering again and forget which one-off tasks ran."""

    code = "DY607"

    def __init__(
        self, env: str, location: str, found: str, release: int, containers: int, restore: str
    ) -> None:
        plural = "" if containers == 1 else "s"
        super().__init__(
            f"the state store {location} has no history of environment {env} ({found}), "
            f"but the engine runs release #{release} of it: {containers} container{plural}",
            hint=f"if the store was lost, {restore}; to start a new history on purpose, "
            f"numbered after what runs: `dockyard state adopt {env}` (the next release is "
            f"then #{release + 1})",
        )
        self.env = env
        self.release = release
        self.containers = containers
