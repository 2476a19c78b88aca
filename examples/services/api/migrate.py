"""Apply the API's database migrations: SQL files, in version order, once each.

    python3 migrate.py            apply every pending migration
    python3 migrate.py --status   list the migrations and which are applied; change nothing
    python3 migrate.py --dir DIR  read the migrations from DIR (default: migrations/ here)

A migration is a file ``<version>_<name>.sql`` (``0002_add_priority.sql``): a
version of four or more digits, then lowercase letters, digits and ``_``. Each
is applied in a transaction of its own together with its row in
``schema_migrations`` (version, name, checksum, applied_at), so a migration
that fails leaves no trace and the next run tries it again. Editing a file
after it was applied is an error (its checksum no longer matches): write a new
migration instead.

A file whose first comment lines hold ``-- migrate: no-transaction`` runs
outside a transaction, for the statements Postgres refuses to run inside one
(``CREATE INDEX CONCURRENTLY``): its statements run one at a time, each ending
with a ``;`` at the end of a line, and the file is recorded once all of them
succeeded. Write them so that running the file again after a failure is safe
(``DROP INDEX CONCURRENTLY IF EXISTS`` before ``CREATE INDEX CONCURRENTLY``).

A session advisory lock (``pg_advisory_lock``) makes concurrent runs take
turns: the second waits, then finds the database up to date.

The database is reached through the usual libpq variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD, PGDATABASE), the password read from the file PGPASSWORD_FILE
names when it is set (a secret under /run/secrets). Settings, from the environment:

    MIGRATE_CONNECT_TIMEOUT    seconds to wait for the database to accept connections (60)
    MIGRATE_LOCK_TIMEOUT       Postgres lock_timeout while migrating (5s): a migration that
                               waits longer for a table lock gives up instead of stalling
                               every query queued behind it
    MIGRATE_LOCK_RETRIES       times a migration that hit the lock timeout is tried again (3)
    MIGRATE_STATEMENT_TIMEOUT  Postgres statement_timeout while migrating (0: none); keep it
                               below the task's timeout so Postgres itself cancels a
                               statement that runs too long

Exit status: 0 when the database is up to date, 1 when a migration failed or
the files disagree with what the database recorded, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors

FILE_NAME = re.compile(r"(?P<version>\d{4,})_(?P<name>[a-z0-9_]+)\.sql")
NO_TRANSACTION = "-- migrate: no-transaction"
LOCK_KEY = 7_401_151  # pg_advisory_lock key: one migration run at a time per database
RETRY_PAUSE = 2.0  # seconds between attempts after a lock timeout

TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """Something to report to the user; the message says what happened and what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the part after the version: "add_priority"
    label: str  # the file's stem: "0002_add_priority"
    sql: str
    checksum: str
    transactional: bool


@dataclass(frozen=True)
class Applied:
    version: int
    name: str
    checksum: str
    applied_at: datetime

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class Settings:
    connect_timeout: float
    lock_timeout: str
    lock_retries: int
    statement_timeout: str

    @classmethod
    def from_env(cls) -> Settings:
        try:
            return cls(
                connect_timeout=float(os.environ.get("MIGRATE_CONNECT_TIMEOUT", "60")),
                lock_timeout=os.environ.get("MIGRATE_LOCK_TIMEOUT", "5s"),
                lock_retries=int(os.environ.get("MIGRATE_LOCK_RETRIES", "3")),
                statement_timeout=os.environ.get("MIGRATE_STATEMENT_TIMEOUT", "0"),
            )
        except ValueError as exc:
            raise MigrationError(f"bad setting: {exc}") from exc


# -- the files -----------------------------------------------------------------


def load_migrations(folder: Path) -> list[Migration]:
    """Every migration in ``folder``, in version order. Files other than ``*.sql`` are
    ignored; a ``.sql`` file with another kind of name is an error, not skipped."""
    if not folder.is_dir():
        raise MigrationError(f"no migrations folder at {folder}")
    found: dict[int, Migration] = {}
    problems: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.suffix != ".sql" or path.name.startswith("."):
            continue
        match = FILE_NAME.fullmatch(path.name)
        if match is None:
            problems.append(
                f"{path.name}: a migration is named <version>_<name>.sql, with a version "
                f"of at least four digits and a lowercase name (0003_add_index.sql)"
            )
            continue
        version = int(match["version"])
        if version in found:
            problems.append(f"{path.name}: version {version} is also {found[version].label}.sql")
            continue
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        found[version] = Migration(
            version=version,
            name=match["name"],
            label=path.stem,
            sql=text,
            checksum=hashlib.sha256(text.encode()).hexdigest(),
            transactional=not _says_no_transaction(text),
        )
    if problems:
        raise MigrationError("\n  ".join(["the migration files are not valid:", *problems]))
    return [found[v] for v in sorted(found)]


def _says_no_transaction(sql: str) -> bool:
    """Whether the comment lines at the top of the file hold the no-transaction mark."""
    for line in sql.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("--"):
            return False
        if line == NO_TRANSACTION:
            return True
    return False


def split_statements(sql: str) -> list[str]:
    """The statements of a no-transaction file: each ends with a ``;`` that ends a line."""
    found: list[str] = []
    lines: list[str] = []
    for line in sql.splitlines():
        lines.append(line)
        if line.rstrip().endswith(";") and not line.lstrip().startswith("--"):
            found.append("\n".join(lines).strip())
            lines = []
    found.append("\n".join(lines).strip())
    return [s for s in found if _has_statements(s)]


def _has_statements(sql: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in sql.splitlines())


# -- the database --------------------------------------------------------------


def connect(timeout: float) -> Any:
    """A connection in autocommit mode, waiting up to ``timeout`` seconds for the
    database to accept one (it may still be starting)."""
    deadline = time.monotonic() + timeout
    said = ""
    while True:
        try:
            conn = psycopg2.connect("", connect_timeout=3, application_name="migrate")
        except psycopg2.OperationalError as exc:
            reason = _first_line(exc)
            if time.monotonic() >= deadline:
                raise MigrationError(f"cannot connect to the database: {reason}") from exc
            if reason != said:
                print(f"waiting for the database: {reason}", flush=True)
                said = reason
            time.sleep(1.0)
            continue
        conn.autocommit = True
        return conn


def prepare_session(conn: Any, settings: Settings) -> None:
    with conn.cursor() as cur:
        for name, value in (
            ("lock_timeout", settings.lock_timeout),
            ("statement_timeout", settings.statement_timeout),
        ):
            try:
                cur.execute("SELECT set_config(%s, %s, false)", (name, value))
            except psycopg2.DataError as exc:
                raise MigrationError(
                    f"MIGRATE_{name.upper()}={value!r}: {_first_line(exc)} "
                    f"(write a Postgres duration such as 500ms, 5s or 2min)"
                ) from exc
        if conn.server_version >= 140000:
            # A killed migration (the task's timeout) must not leave its statement
            # running, locks held, on a server that never hears from it again.
            # Where the server's platform lacks the check, running without it is fine.
            with contextlib.suppress(psycopg2.Error):
                cur.execute("SET client_connection_check_interval = '2s'")


def take_lock(conn: Any) -> None:
    """Hold the advisory lock for the rest of the session; wait for it when another run
    holds it. The wait has no lock_timeout: the task's own timeout bounds it."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
        if cur.fetchone()[0]:
            return
        print("another migration run holds the lock; waiting for it to finish", flush=True)
        cur.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
        lock_timeout, statement_timeout = cur.fetchone()
        cur.execute("SET lock_timeout = 0")
        cur.execute("SET statement_timeout = 0")
        cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        cur.execute("SELECT set_config('lock_timeout', %s, false)", (lock_timeout,))
        cur.execute("SELECT set_config('statement_timeout', %s, false)", (statement_timeout,))


def read_applied(conn: Any) -> dict[int, Applied]:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("SELECT version, name, checksum, applied_at FROM schema_migrations")
        return {row[0]: Applied(*row) for row in cur.fetchall()}


def check(migrations: list[Migration], applied: dict[int, Applied]) -> list[Migration]:
    """The pending migrations; raises when an applied file changed or a pending one
    comes before one already applied."""
    problems: list[str] = []
    for m in migrations:
        done = applied.get(m.version)
        if done is None:
            continue
        when = done.applied_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        if done.name != m.name:
            problems.append(
                f"{m.label}.sql: version {m.version} was applied as {done.label} on {when}; "
                f"a migration keeps its name once applied"
            )
        elif done.checksum != m.checksum:
            problems.append(
                f"{m.label}.sql changed since it was applied on {when} (checksum "
                f"{done.checksum[:12]} then, {m.checksum[:12]} now): an applied migration "
                f"must not change; restore it and put the change in a new migration"
            )
    pending = [m for m in migrations if m.version not in applied]
    if applied and pending:
        latest = applied[max(applied)]
        for m in pending:
            if m.version < latest.version:
                problems.append(
                    f"{m.label}.sql is pending but {latest.label} is already applied: "
                    f"migrations apply in version order; give it a version above "
                    f"{latest.version:04d}"
                )
    if problems:
        raise MigrationError("\n  ".join(["the database and the files disagree:", *problems]))
    return pending


def apply(conn: Any, m: Migration) -> None:
    """Run one migration and record it: in one transaction, or, for a no-transaction
    file, statement by statement and then its record."""
    record = "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"
    values = (m.version, m.name, m.checksum)
    if not m.transactional:
        with conn.cursor() as cur:
            for statement in split_statements(m.sql):
                cur.execute(statement)
            cur.execute(record, values)
        return
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            if _has_statements(m.sql):
                cur.execute(m.sql)
            cur.execute(record, values)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.autocommit = True


def apply_with_retries(conn: Any, m: Migration, settings: Settings) -> None:
    attempt = 0
    while True:
        try:
            apply(conn, m)
            return
        except psycopg2.errors.LockNotAvailable as exc:
            if not m.transactional or attempt >= settings.lock_retries:
                raise MigrationError(
                    f"failed {m.label}: {attempt + 1} attempt(s) each waited lock_timeout "
                    f"({settings.lock_timeout}) for a lock that another transaction holds "
                    f"({_first_line(exc)}); nothing of it is applied. Find the long "
                    f"transaction in pg_stat_activity, or run again when it is over"
                ) from exc
            attempt += 1
            print(
                f"{m.label}: a lock was not free within {settings.lock_timeout}; "
                f"trying again in {RETRY_PAUSE:g}s ({attempt} of {settings.lock_retries})",
                flush=True,
            )
            time.sleep(RETRY_PAUSE)
        except psycopg2.Error as exc:
            if m.transactional:
                after = "it was rolled back: nothing of it is applied"
            else:
                after = "it ran outside a transaction: statements before the failing one stay"
            raise MigrationError(f"failed {m.label}: {_pg_message(exc)}\n{after}") from exc


# -- commands ------------------------------------------------------------------


def migrate(conn: Any, migrations: list[Migration], settings: Settings) -> int:
    prepare_session(conn, settings)
    take_lock(conn)
    with conn.cursor() as cur:
        cur.execute(TABLE)
    applied = read_applied(conn)
    pending = check(migrations, applied)
    for version in sorted(set(applied) - {m.version for m in migrations}):
        print(
            f"the database has {applied[version].label}, which these files do not have "
            f"(a newer release applied it); leaving it as it is"
        )
    for m in pending:
        started = time.monotonic()
        apply_with_retries(conn, m, settings)
        print(f"applied {m.label} ({time.monotonic() - started:.2f}s)", flush=True)
    latest = max(set(applied) | {m.version for m in pending}, default=None)
    at = "an empty schema" if latest is None else _label(latest, migrations, applied)
    if pending:
        print(f"done: {len(pending)} applied, the database is at {at}")
    else:
        print(f"up to date: the database is at {at}")
    return 0


def status(conn: Any, migrations: list[Migration]) -> int:
    applied = read_applied(conn)
    labels = [m.label for m in migrations] + [a.label for a in applied.values()]
    width = max(map(len, labels), default=0)
    for m in migrations:
        done = applied.get(m.version)
        if done is None:
            state = "pending"
        elif done.checksum != m.checksum or done.name != m.name:
            state = f"CHANGED since applied {done.applied_at:%Y-%m-%d %H:%M:%S}"
        else:
            state = f"applied {done.applied_at:%Y-%m-%d %H:%M:%S}"
        print(f"{m.label:<{width}}  {state}")
    for version in sorted(set(applied) - {m.version for m in migrations}):
        print(f"{applied[version].label:<{width}}  applied, no such file (a newer release)")
    try:
        check(migrations, applied)
    except MigrationError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def _label(version: int, migrations: list[Migration], applied: dict[int, Applied]) -> str:
    for m in migrations:
        if m.version == version:
            return m.label
    return applied[version].label


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _pg_message(exc: psycopg2.Error) -> str:
    """Postgres's own report (message, position, detail, hint), or the driver's."""
    text = (getattr(exc, "pgerror", None) or str(exc)).strip()
    return text.removeprefix("ERROR:").strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Apply the API's database migrations.")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(__file__).resolve().parent / "migrations",
        help="folder of the migration files (default: migrations/ beside this script)",
    )
    parser.add_argument(
        "--status", action="store_true", help="list the migrations and change nothing"
    )
    args = parser.parse_args(argv)
    if os.environ.get("PGPASSWORD_FILE"):
        with open(os.environ["PGPASSWORD_FILE"], encoding="utf-8") as file:
            os.environ["PGPASSWORD"] = file.read().strip()  # this process's only
    try:
        migrations = load_migrations(args.dir)
        settings = Settings.from_env()
        conn = connect(settings.connect_timeout)
        try:
            if args.status:
                return status(conn, migrations)
            return migrate(conn, migrations, settings)
        finally:
            conn.close()
    except MigrationError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    except psycopg2.Error as exc:
        print(f"migrate: database error: {_pg_message(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
