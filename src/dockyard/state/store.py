"""The state store: release history, task runs and deploy locks of environments."""

from __future__ import annotations

from types import TracebackType

from dockyard.state.db import Database
from dockyard.state.locks import LockTable
from dockyard.state.releases import ReleaseLog
from dockyard.state.tasks import TaskLog


class StateStore(ReleaseLog, TaskLog, LockTable):
    """One database (SQLite or PostgreSQL) holding every environment's releases,
    task runs and deploy locks. Open it with :func:`dockyard.state.open_store`;
    safe to share between threads, and between processes through the database."""

    def __init__(self, db: Database, schema_version: int, location: str | None = None) -> None:
        self._db = db
        self.schema_version = schema_version
        self.location = location or db.url  # a SQLite file's path, else the URL

    def __repr__(self) -> str:
        return f"StateStore({self._db.url!r}, schema_version={self.schema_version})"

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Where the store is, never with a password."""
        return self._db.url

    def close(self) -> None:
        """Close the store's connections."""
        self._db.close()
