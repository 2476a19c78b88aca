"""The database under the state store: transactions, the database's clock, and the
translation of SQLAlchemy and driver errors into Dockyard errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Double, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from dockyard.errors import StateError
from dockyard.state.errors import StateUnreachable, StoreFull

FULL = ("database or disk is full", "no space left on device", "disk full")
"""What SQLite (SQLITE_FULL) and PostgreSQL (53100, ENOSPC) say when there is no room."""
NO_ROOM = 64 * 1024
"""Bytes free under an SQLite store below which its I/O errors mean a full disk."""
WRITE_OPTION = "dockyard_write"
"""Execution option marking a write transaction; SQLite begins those IMMEDIATE."""


class db_now(FunctionElement[float]):  # lower case: it reads as the SQL function it is
    """The database's clock as unix seconds. Every lease and release time is read
    from it, so that processes on hosts with skewed clocks agree on them."""

    type = Double()
    name = "db_now"
    inherit_cache = True


@compiles(db_now, "sqlite")
def _now_sqlite(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    # julianday('now') has millisecond precision; 2440587.5 is the unix epoch.
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(db_now, "postgresql")
def _now_postgresql(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    # statement_timestamp(): the same value for the whole statement, fresh for each one.
    return "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"


class StateConflict(StateError):
    """A write collided with another one (a unique key); the caller may retry."""


class Database:
    """An engine plus what every query needs: read and write transactions that turn
    driver errors into :class:`StateError`, with the password scrubbed out."""

    def __init__(self, engine: Engine, display_url: str, password: str | None = None) -> None:
        self.engine = engine
        self.url = display_url  # never carries the password
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._password = password

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes; committed when the block ends without error."""
        with self.translated(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.translated(), self.engine.begin() as conn:
            yield conn

    def upsert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """``INSERT ... ON CONFLICT`` for this database."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def close(self) -> None:
        self.engine.dispose()

    def scrub(self, text: str) -> str:
        """``text`` with the password, should a driver ever echo it, masked."""
        if self._password:
            text = text.replace(self._password, "***")
        return text.strip()

    def describe(self, error: SQLAlchemyError) -> str:
        orig = error.orig if isinstance(error, DBAPIError) else None
        return self.scrub(str(orig if orig is not None else error))

    def _no_room(self, described: str) -> bool:
        """Whether an SQLite I/O error came from a full disk: SQLite reports one that
        its shared-memory file cannot grow on as "disk I/O error"."""
        database = self.engine.url.database
        if self.dialect != "sqlite" or "disk i/o error" not in described.lower() or not database:
            return False
        try:
            found = os.statvfs(os.path.dirname(os.path.abspath(database)))
        except OSError:
            return False
        return found.f_bavail * found.f_frsize < NO_ROOM

    @contextmanager
    def translated(self) -> Iterator[None]:
        """Turn SQLAlchemy errors raised in the block into Dockyard errors."""
        try:
            yield
        except IntegrityError as e:
            raise StateConflict(
                f"the state store at {self.url} refused a conflicting write: {self.describe(e)}"
            ) from e
        except DBAPIError as e:
            described = self.describe(e)
            if any(words in described.lower() for words in FULL) or self._no_room(described):
                raise StoreFull(
                    f"the state store at {self.url} has no room left: {described}",
                    hint="nothing of this write was kept; free space on the disk that "
                    "holds the store, then run the command again",
                ) from e
            error = StateUnreachable if e.connection_invalidated else StateError
            raise error(
                f"the state store at {self.url} failed: {described}",
                hint="check that the database is up and reachable, then run the command again",
            ) from e
        except SQLAlchemyError as e:
            raise StateError(f"the state store at {self.url} failed: {self.describe(e)}") from e
