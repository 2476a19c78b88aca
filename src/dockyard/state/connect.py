"""Opening the state store: the URL, the engine, and migrating on open."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from dockyard.errors import StateError
from dockyard.spec.environment import StateConfig
from dockyard.state import files
from dockyard.state.db import WRITE_OPTION, Database
from dockyard.state.errors import (
    StateConfigError,
    StateSchemaTooNew,
    StateUnreachable,
    StoreFull,
    StoreMissing,
)
from dockyard.state.migrations import migrate, schema_version
from dockyard.state.store import StateStore

DEFAULT_PATH = Path(".dockyard") / "state.db"
"""Where the store lives, in the environment repo, when ``state.url`` is not set."""

BUSY_TIMEOUT = 30.0
"""Seconds a SQLite write waits for another process's write to finish."""

CONNECT_TIMEOUT = 10
"""Seconds to wait for a PostgreSQL server to answer."""

SUPPORTED = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


def open_store(config: StateConfig, repo: Path, *, create: bool = True) -> StateStore:
    """Open (migrating as needed) the state store of an environment repo:
    ``config.url``, or SQLite at ``<repo>/.dockyard/state.db``.

    With ``create`` a missing store is created (SQLite files owner-only, see
    ``dockyard.state.files``); without, :class:`StoreMissing` is raised for no
    file, an empty file, or a database without Dockyard's tables, and nothing is
    created. Whether a missing store may be created is the caller's to decide:
    ``dockyard.deploy.history.check_history``."""
    url = state_url(config, repo)
    password = _password(config, url)
    location = store_location(url)
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        if create:
            files.create(path, own_folder=config.url is None)
        else:
            reason = files.missing(path)
            if reason is not None:
                raise StoreMissing(location, reason)
            files.tighten(path, own_folder=config.url is None)
    engine = _engine(url, password)
    db = Database(engine, _display(url), password)
    try:
        with db.translated(), engine.connect():
            pass
    except StoreFull:  # says what to do better than "cannot open"
        db.close()
        raise
    except StateError as e:
        db.close()
        raise _unreachable(db, config, url, e) from e.__cause__
    if not create:
        _require_tables(db, location)
    try:
        with db.write() as conn:
            version = migrate(conn, where=db.url)
    except (StateSchemaTooNew, StoreFull):
        db.close()
        raise
    except StateError as e:
        db.close()
        cause = e.__cause__
        detail = db.describe(cause) if isinstance(cause, SQLAlchemyError) else e.message
        raise StateError(
            f"cannot prepare the state store at {db.url}: {detail}",
            hint="Dockyard creates and migrates its tables when it opens the store: the "
            "database user must be allowed to create tables (own the database, or have "
            "CREATE on its schema)",
        ) from e.__cause__
    except BaseException:
        db.close()
        raise
    return StateStore(db, version, location)


def store_location(url: URL) -> str:
    """How a store is named to a user: a SQLite file's path, else the URL without
    password."""
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return _display(url)


def _require_tables(db: Database, location: str) -> None:
    try:
        with db.read() as conn:
            version = schema_version(conn)
    except BaseException:
        db.close()
        raise
    if version == 0:
        db.close()
        raise StoreMissing(location, "it has no tables")


def state_url(config: StateConfig, repo: Path) -> URL:
    """The store's SQLAlchemy URL, with the driver Dockyard uses and no password.
    A relative SQLite path is relative to the environment repo."""
    if config.url is None:
        return URL.create("sqlite", database=str(repo.absolute() / DEFAULT_PATH))
    try:
        url = make_url(config.url)
    except ArgumentError:
        raise StateConfigError(
            "state.url is not a database URL",
            hint="write sqlite:///path/to/state.db or postgresql://user@host:5432/database",
        ) from None
    if url.password is not None:
        raise StateConfigError(
            f"state.url {_display(url)} contains a password",
            hint="take it out of the URL, put it in an environment variable, and name "
            "that variable in state.password_env",
        )
    drivername = SUPPORTED.get(url.drivername)
    if drivername is None:
        raise StateConfigError(
            f"state.url {_display(url)}: {url.drivername!r} databases are not supported",
            hint="use sqlite:///path/to/state.db or postgresql://user@host:5432/database",
        )
    url = url.set(drivername=drivername)
    if drivername == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise StateConfigError(
                "state.url names an in-memory SQLite database, which forgets every release",
                hint="name a file: sqlite:///.dockyard/state.db (relative to the environment repo)",
            )
        path = Path(url.database or "")
        if not path.is_absolute():
            path = repo.absolute() / path
        url = url.set(database=str(path))
    return url


def _password(config: StateConfig, url: URL) -> str | None:
    if config.password_env is None:
        return None
    if url.get_backend_name() != "postgresql":
        raise StateConfigError(
            "state.password_env is set, but a SQLite state store has no password",
            hint="remove state.password_env, or point state.url at a PostgreSQL database",
        )
    password = os.environ.get(config.password_env)
    if password is None:
        raise StateConfigError(
            f"the environment variable {config.password_env} is not set; "
            "state.password_env says it holds the state database's password",
            hint=f"export {config.password_env}=... (from your secret manager or CI secrets) "
            "and run the command again",
        )
    return password


def _engine(url: URL, password: str | None) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, hide_parameters=True, connect_args={"timeout": BUSY_TIMEOUT})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {"application_name": "dockyard"}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    if password is not None:
        connect_args["password"] = password  # kept out of the URL, and so out of reprs
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN (below) instead of the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    _wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _wal(cursor: Any) -> None:
    """Switch to WAL (readers never block the writer). Switching needs the database
    to itself for a moment, and SQLite may answer "locked" at once instead of
    waiting when several processes open a new file together: retry until the busy
    timeout has passed."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the database's write lock up front, so that what it
    # read (the next release number, the lock row) cannot change before it writes.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _display(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}"
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def _unreachable(db: Database, config: StateConfig, url: URL, error: Exception) -> StateUnreachable:
    cause = error.__cause__
    detail = db.describe(cause) if isinstance(cause, DBAPIError) else str(error)
    if url.get_backend_name() == "sqlite":
        hint = f"check that {url.database} is a SQLite database this user can write to"
    else:
        hint = (
            "check state.url (host, port, database, user) in the environment file, and "
            "that the PostgreSQL server runs and accepts connections from this host"
        )
        if config.password_env:
            hint += f"; check that ${config.password_env} holds the role's password"
    return StateUnreachable(f"cannot open the state store at {db.url}: {detail}", hint=hint)
