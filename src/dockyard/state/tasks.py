"""Runs of one-off tasks (migrations, seeds): what ran, on which image, and how
it ended — so that a task that already succeeded for an image and definition
need not run again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select

from dockyard.state.db import Database, db_now
from dockyard.state.records import TASK_STATUSES, TaskRun, TaskStatus, checked, utc
from dockyard.state.tables import data_resets, task_runs

LOG_TAIL_LIMIT = 16_384
"""Characters of a task's output kept with its run (the end of it)."""


class TaskLog:
    """The task-run half of :class:`~dockyard.state.StateStore`."""

    _db: Database

    def record_task_run(
        self,
        env: str,
        *,
        release: int | None,
        service: str,
        task: str,
        command: Sequence[str],
        digest: str,
        definition_hash: str,
        status: TaskStatus,
        exit_code: int | None,
        duration: float,
        log_tail: str = "",
        started_at: datetime | None = None,
    ) -> TaskRun:
        """Record a finished task run. ``started_at`` defaults to the database's
        clock less ``duration``. Only the last :data:`LOG_TAIL_LIMIT` characters of
        ``log_tail`` are kept."""
        if status not in TASK_STATUSES:
            raise ValueError(f"a task run ends as one of {TASK_STATUSES}, not {status!r}")
        start = started_at.timestamp() if started_at is not None else db_now() - duration
        with self._db.write() as conn:
            new_id: int = conn.execute(
                insert(task_runs)
                .values(
                    env=env,
                    release=release,
                    service=service,
                    task=task,
                    command=list(command),
                    digest=digest,
                    definition_hash=definition_hash,
                    status=status,
                    exit_code=exit_code,
                    started_at=start,
                    duration=duration,
                    log_tail=log_tail[-LOG_TAIL_LIMIT:],
                )
                .returning(task_runs.c.id)
            ).scalar_one()
            row = conn.execute(select(task_runs).where(task_runs.c.id == new_id)).one()
            return _task_run(row)

    def task_runs(self, env: str, release: int | None = None, limit: int = 100) -> list[TaskRun]:
        """The environment's task runs (of one release when given), newest first."""
        query = select(task_runs).where(task_runs.c.env == env)
        if release is not None:
            query = query.where(task_runs.c.release == release)
        query = query.order_by(task_runs.c.id.desc()).limit(limit)
        with self._db.read() as conn:
            return [_task_run(row) for row in conn.execute(query)]

    def last_task_success(
        self, env: str, service: str, task: str, digest: str, definition_hash: str
    ) -> TaskRun | None:
        """The newest succeeded run of this task on this image with this definition,
        since the environment's data was last reset (:meth:`reset_data`)."""
        reset = select(data_resets.c.reset_at).where(data_resets.c.env == env).scalar_subquery()
        query = (
            select(task_runs)
            .where(
                task_runs.c.started_at + task_runs.c.duration > func.coalesce(reset, 0.0),
                task_runs.c.env == env,
                task_runs.c.service == service,
                task_runs.c.task == task,
                task_runs.c.digest == digest,
                task_runs.c.definition_hash == definition_hash,
                task_runs.c.status == "succeeded",
            )
            .order_by(task_runs.c.id.desc())
            .limit(1)
        )
        with self._db.read() as conn:
            row = conn.execute(query).one_or_none()
            return _task_run(row) if row is not None else None

    def reset_data(self, env: str) -> None:
        """Record that ``env``'s data volumes were removed: the tasks that shaped that
        data (migrations) must run again, whatever they ran on before."""
        statement = self._db.upsert(data_resets).values(env=env, reset_at=db_now())
        statement = statement.on_conflict_do_update(
            index_elements=[data_resets.c.env], set_={"reset_at": db_now()}
        )
        with self._db.write() as conn:
            conn.execute(statement)


def _task_run(row: Row[Any]) -> TaskRun:
    return TaskRun(
        id=row.id,
        env=row.env,
        release=row.release,
        service=row.service,
        task=row.task,
        command=tuple(row.command),
        digest=row.digest,
        definition_hash=row.definition_hash,
        status=checked(row.status, TASK_STATUSES, "task status"),
        exit_code=row.exit_code,
        started_at=utc(row.started_at),
        duration=row.duration,
        log_tail=row.log_tail,
    )
