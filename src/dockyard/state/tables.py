"""The tables of the state store as the current schema version has them.

Queries use these definitions; migrations (``migrations.py``) carry their own
copy of what each version created, so that changing a table here never changes
what an old migration did. A test checks that the two agree after migrating.

Times are unix seconds (double precision) from the database's clock.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

Json = JSON().with_variant(JSONB(), "postgresql")

ENV = 63  # environment and service names are DNS labels

schema = Table(
    "dockyard_schema",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one row
    Column("version", Integer, nullable=False),
    Column("migrated_at", Double, nullable=False),
)

releases = Table(
    "dockyard_releases",
    metadata,
    Column("env", String(ENV), primary_key=True),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("source", String(255)),
    Column("started_at", Double, nullable=False),
    Column("finished_at", Double),
    Column("duration", Double),
    Column("plan", Json),
    Column("desired", Json),
    Column("error", Text),
)

release_services = Table(
    "dockyard_release_services",
    metadata,
    Column("env", String(ENV), primary_key=True),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("name", String(ENV), primary_key=True),
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

locks = Table(
    "dockyard_locks",
    metadata,
    Column("env", String(ENV), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("command", String(255), nullable=False),
    Column("lease", Double, nullable=False),
    Column("started_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("pid_start", BigInteger),  # the holder's start, clock ticks after boot
    Column("pid_space", String(128)),  # where its pid means something: boot id/pid namespace
)

task_runs = Table(
    "dockyard_task_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("env", String(ENV), nullable=False),
    Column("release", Integer),
    Column("service", String(ENV), nullable=False),
    Column("task", String(ENV), nullable=False),
    Column("command", Json, nullable=False),
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

data_resets = Table(
    "dockyard_data_resets",
    metadata,
    Column("env", String(ENV), primary_key=True),
    Column("reset_at", Double, nullable=False),
)
"""When an environment's data volumes were last removed: task runs before that
(migrations of a database that no longer exists) no longer count."""
