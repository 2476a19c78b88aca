"""The state store: release history, audit of task runs, and deploy locks.

SQLite in the environment repo by default (``.dockyard/state.db``), PostgreSQL
by URL for teams that deploy from several machines. See docs/state.md.
"""

from dockyard.errors import StateError
from dockyard.state.connect import open_store, state_url
from dockyard.state.errors import (
    HistoryMissing,
    LockHeld,
    LockLost,
    ReleaseNotFound,
    StateConfigError,
    StateSchemaTooNew,
    StateUnreachable,
    StoreMissing,
)
from dockyard.state.identity import actor
from dockyard.state.keeper import LockKeeper
from dockyard.state.liveness import Liveness
from dockyard.state.migrations import LATEST as SCHEMA_VERSION
from dockyard.state.records import (
    FinalStatus,
    Lock,
    LockHolder,
    LockInfo,
    Release,
    ReleaseKind,
    ReleaseService,
    ReleaseStatus,
    TaskRun,
    TaskStatus,
)
from dockyard.state.store import StateStore

__all__ = [
    "SCHEMA_VERSION",
    "FinalStatus",
    "HistoryMissing",
    "Liveness",
    "Lock",
    "LockHeld",
    "LockHolder",
    "LockInfo",
    "LockKeeper",
    "LockLost",
    "Release",
    "ReleaseKind",
    "ReleaseNotFound",
    "ReleaseService",
    "ReleaseStatus",
    "StateConfigError",
    "StateError",
    "StateSchemaTooNew",
    "StateStore",
    "StateUnreachable",
    "StoreMissing",
    "TaskRun",
    "TaskStatus",
    "actor",
    "open_store",
    "state_url",
]
