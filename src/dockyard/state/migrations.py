"""Versioned migrations of the state store's own schema.

A small runner rather than Alembic: an ordered list of steps, and the
``dockyard_schema`` table with the version applied. ``migrate`` runs in the
caller's transaction, so a store is either fully migrated or untouched. Two
processes opening a fresh store at once are serialized: PostgreSQL by a
transaction-level advisory lock, SQLite by ``BEGIN IMMEDIATE``; DDL is
transactional in both.

Each step declares the tables as that version created them (its own
``MetaData``), never the current definitions in ``tables.py``: a step must do
the same thing forever. To change the schema, append a step; never edit one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from dockyard.state.db import db_now
from dockyard.state.errors import StateSchemaTooNew
from dockyard.state.tables import schema

ADVISORY_LOCK_KEY = int.from_bytes(b"dockyard", "big")  # one key for all Dockyard stores


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_releases_and_locks(conn: Connection) -> None:
    md = MetaData()
    json = JSON().with_variant(JSONB(), "postgresql")
    Table(
        "dockyard_releases",
        md,
        Column("env", String(63), primary_key=True),
        Column("number", Integer, primary_key=True, autoincrement=False),
        Column("kind", String(16), nullable=False),
        Column("status", String(16), nullable=False),
        Column("actor", String(255), nullable=False),
        Column("source", String(255)),
        Column("started_at", Double, nullable=False),
        Column("finished_at", Double),
        Column("duration", Double),
        Column("plan", json),
        Column("desired", json),
        Column("error", Text),
    )
    Table(
        "dockyard_release_services",
        md,
        Column("env", String(63), primary_key=True),
        Column("number", Integer, primary_key=True, autoincrement=False),
        Column("name", String(63), primary_key=True),
        Column("position", Integer, nullable=False),
        Column("image", String(512), nullable=False),
        Column("digest", String(128)),
        Column("commit", String(64)),
        Column("dirty", Boolean, nullable=False),
        Column("params_commit", String(64)),
        Column("spec_hash", String(64)),
        ForeignKeyConstraint(
            ["env", "number"],
            ["dockyard_releases.env", "dockyard_releases.number"],
            ondelete="CASCADE",
        ),
    )
    Table(
        "dockyard_locks",
        md,
        Column("env", String(63), primary_key=True),
        Column("token", String(64), nullable=False),
        Column("actor", String(255), nullable=False),
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("command", String(255), nullable=False),
        Column("lease", Double, nullable=False),
        Column("started_at", Double, nullable=False),
        Column("expires_at", Double, nullable=False),
    )
    md.create_all(conn)


def _v2_task_runs(conn: Connection) -> None:
    md = MetaData()
    Table(
        "dockyard_task_runs",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("env", String(63), nullable=False),
        Column("release", Integer),
        Column("service", String(63), nullable=False),
        Column("task", String(63), nullable=False),
        Column("command", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        Column("digest", String(512), nullable=False),
        Column("definition_hash", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("exit_code", Integer),
        Column("started_at", Double, nullable=False),
        Column("duration", Double, nullable=False),
        Column("log_tail", Text, nullable=False),
        Index("dockyard_task_runs_lookup", "env", "service", "task", "digest"),
        Index("dockyard_task_runs_release", "env", "release"),
    )
    md.create_all(conn)


def _v3_data_resets(conn: Connection) -> None:
    md = MetaData()
    Table(
        "dockyard_data_resets",
        md,
        Column("env", String(63), primary_key=True),
        Column("reset_at", Double, nullable=False),
    )
    md.create_all(conn)


def _v4_lock_holder_process(conn: Connection) -> None:
    # Columns added to a table an earlier step made: plain DDL, the same on both
    # databases, naming only what this step adds.
    conn.execute(text("ALTER TABLE dockyard_locks ADD COLUMN pid_start BIGINT"))
    conn.execute(text("ALTER TABLE dockyard_locks ADD COLUMN pid_space VARCHAR(128)"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "releases, their services, deploy locks", _v1_releases_and_locks),
    Migration(2, "task runs", _v2_task_runs),
    Migration(3, "data resets", _v3_data_resets),
    Migration(4, "the lock holder's process start and pid namespace", _v4_lock_holder_process),
)
LATEST = MIGRATIONS[-1].version


def schema_version(conn: Connection) -> int:
    """The version a store is at; 0 for an empty database."""
    if not conn.dialect.has_table(conn, schema.name):
        return 0
    return conn.execute(select(schema.c.version).where(schema.c.id == 1)).scalar_one_or_none() or 0


def migrate(conn: Connection, *, where: str, target: int = LATEST) -> int:
    """Bring the store to ``target`` inside the caller's transaction; return its
    version. ``where`` names the store in errors (its URL without password)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    schema.create(conn, checkfirst=True)
    version = schema_version(conn)
    if version > LATEST:
        raise StateSchemaTooNew(
            f"the state store at {where} has schema version {version}, newer than this "
            f"Dockyard knows (up to {LATEST}): a newer Dockyard has used it",
            hint="upgrade Dockyard to the version your team deploys with "
            "(`pip install -U dockyard`); an older one must not write to this store",
        )
    steps = [m for m in MIGRATIONS if version < m.version <= target]
    for step in steps:
        step.apply(conn)
    if steps:
        new = steps[-1].version
        if version == 0:
            conn.execute(insert(schema).values(id=1, version=new, migrated_at=db_now()))
        else:
            conn.execute(
                update(schema).where(schema.c.id == 1).values(version=new, migrated_at=db_now())
            )
        version = new
    return version
