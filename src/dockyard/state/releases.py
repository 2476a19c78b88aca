"""Release history: one numbered row per deploy, rollback or promotion of an
environment, with the services it deployed, its plan and its outcome."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from dockyard.errors import StateError
from dockyard.state.db import Database, StateConflict, db_now
from dockyard.state.errors import ReleaseNotFound
from dockyard.state.records import (
    FINAL_STATUSES,
    RELEASE_KINDS,
    RELEASE_STATUSES,
    FinalStatus,
    Release,
    ReleaseKind,
    ReleaseService,
    checked,
    utc,
)
from dockyard.state.tables import release_services, releases

NUMBERING_ATTEMPTS = 20
"""Two processes starting a release of one environment at once compute the same
next number; the unique key refuses the second, which then takes the next one."""

INTERRUPTED = "the process running this release stopped before it finished"


class ReleaseLog:
    """The release-history half of :class:`~dockyard.state.StateStore`."""

    _db: Database

    def start_release(
        self,
        env: str,
        kind: ReleaseKind,
        actor: str,
        services: Sequence[ReleaseService],
        source: str | None = None,
        prepared: float = 0.0,
    ) -> Release:
        """Record a release as ``running`` under the environment's next number.

        ``prepared`` is how many seconds its work began before now (the build and
        push that come before the record): its start and duration count them."""
        if kind not in RELEASE_KINDS or kind == "adopt":
            raise ValueError(f"release kind must be one of {RELEASE_KINDS}, not {kind!r}")
        names = [s.name for s in services]
        if len(set(names)) != len(names):
            raise ValueError(f"a release lists each service once: {names}")
        for attempt in range(NUMBERING_ATTEMPTS):
            try:
                with self._db.write() as conn:
                    number: int = conn.execute(
                        select(func.coalesce(func.max(releases.c.number), 0) + 1).where(
                            releases.c.env == env
                        )
                    ).scalar_one()
                    conn.execute(
                        insert(releases).values(
                            env=env,
                            number=number,
                            kind=kind,
                            status="running",
                            actor=actor,
                            source=source,
                            started_at=db_now() - max(prepared, 0.0),
                        )
                    )
                    if services:
                        conn.execute(
                            insert(release_services),
                            [_service_row(env, number, i, s) for i, s in enumerate(services)],
                        )
                    return self._get(conn, env, number)
            except StateConflict:
                if attempt == NUMBERING_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def adopt_release(
        self, env: str, number: int, actor: str, services: Sequence[ReleaseService]
    ) -> Release:
        """Begin a new history of ``env`` at release ``number`` (what its containers
        are labelled), recorded as a succeeded ``adopt`` without plan or desired
        state, so that the next release is ``number + 1``. Only for an environment
        without releases: :class:`StateError` otherwise."""
        if number < 1:
            raise ValueError(f"a release number is positive, not {number}")
        with self._db.write() as conn:
            latest = conn.execute(
                select(func.max(releases.c.number)).where(releases.c.env == env)
            ).scalar_one_or_none()
            if latest is not None:
                raise StateError(
                    f"environment {env} already has a history (up to release #{latest}); "
                    "adopting starts one only where there is none",
                    hint=f"see `dockyard history {env}`",
                )
            conn.execute(
                insert(releases).values(
                    env=env,
                    number=number,
                    kind="adopt",
                    status="succeeded",
                    actor=actor,
                    started_at=db_now(),
                    finished_at=db_now(),
                    duration=0.0,
                )
            )
            if services:
                conn.execute(
                    insert(release_services),
                    [_service_row(env, number, i, s) for i, s in enumerate(services)],
                )
            return self._get(conn, env, number)

    def has_history(self, env: str) -> bool:
        """Whether any release of ``env`` is recorded."""
        with self._db.read() as conn:
            found = conn.execute(
                select(releases.c.number).where(releases.c.env == env).limit(1)
            ).first()
            return found is not None

    def finish_release(
        self,
        env: str,
        number: int,
        status: FinalStatus,
        *,
        plan: Mapping[str, Any] | None,
        desired: Mapping[str, Any] | None,
        error: str | None = None,
    ) -> Release:
        """Record the outcome of a running release, the plan it applied and the
        desired state it aimed at (JSON values, which never hold secret values)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"a release finishes as one of {FINAL_STATUSES}, not {status!r}")
        with self._db.write() as conn:
            done = conn.execute(
                update(releases)
                .where(
                    releases.c.env == env,
                    releases.c.number == number,
                    releases.c.status == "running",
                )
                .values(
                    status=status,
                    finished_at=db_now(),
                    duration=db_now() - releases.c.started_at,
                    plan=dict(plan) if plan is not None else None,
                    desired=dict(desired) if desired is not None else None,
                    error=error,
                )
            )
            release = self._get(conn, env, number)
            if done.rowcount == 0:
                raise StateError(
                    f"release {release.label} is already {release.status}; "
                    "a release's outcome is recorded once",
                    hint="a release found running by the next deploy is marked interrupted; "
                    "start a new release instead",
                )
            return release

    def mark_interrupted(self, env: str, except_number: int | None = None) -> list[int]:
        """Mark the environment's ``running`` releases ``interrupted`` (their process
        died); call it holding the deploy lock. Returns the numbers marked."""
        where = [releases.c.env == env, releases.c.status == "running"]
        if except_number is not None:
            where.append(releases.c.number != except_number)
        with self._db.write() as conn:
            numbers: Iterable[int] = conn.execute(
                update(releases)
                .where(*where)
                .values(
                    status="interrupted",
                    finished_at=db_now(),
                    duration=db_now() - releases.c.started_at,
                    error=INTERRUPTED,
                )
                .returning(releases.c.number)
            ).scalars()
            return sorted(numbers)

    def history(self, env: str, limit: int = 20) -> list[Release]:
        """The environment's releases, newest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(releases)
                .where(releases.c.env == env)
                .order_by(releases.c.number.desc())
                .limit(limit)
            ).all()
            return _releases(conn, env, rows)

    def get(self, env: str, number: int) -> Release:
        """Release ``number`` of ``env``; :class:`ReleaseNotFound` when there is none."""
        with self._db.read() as conn:
            return self._get(conn, env, number)

    def last_succeeded(self, env: str, before: int | None = None) -> Release | None:
        """The newest succeeded release (older than ``before`` when given)."""
        query = select(releases).where(releases.c.env == env, releases.c.status == "succeeded")
        if before is not None:
            query = query.where(releases.c.number < before)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(releases.c.number.desc()).limit(1)).all()
            found = _releases(conn, env, rows)
            return found[0] if found else None

    def _get(self, conn: Connection, env: str, number: int) -> Release:
        rows = conn.execute(
            select(releases).where(releases.c.env == env, releases.c.number == number)
        ).all()
        if not rows:
            recent: Sequence[int] = (
                conn.execute(
                    select(releases.c.number)
                    .where(releases.c.env == env)
                    .order_by(releases.c.number.desc())
                    .limit(5)
                )
                .scalars()
                .all()
            )
            numbers = ", ".join(f"#{n}" for n in recent)
            raise ReleaseNotFound(
                f"environment {env!r} has no release #{number}",
                hint=(
                    f"recent releases: {numbers} (see `dockyard history {env}`)"
                    if numbers
                    else f"{env!r} has no recorded releases yet"
                ),
            )
        return _releases(conn, env, rows)[0]


def _service_row(env: str, number: int, position: int, s: ReleaseService) -> dict[str, Any]:
    return {
        "env": env,
        "number": number,
        "name": s.name,
        "position": position,
        "image": s.image,
        "digest": s.digest,
        "commit": s.commit,
        "dirty": s.dirty,
        "params_commit": s.params_commit,
        "spec_hash": s.spec_hash,
    }


def _releases(conn: Connection, env: str, rows: Sequence[Row[Any]]) -> list[Release]:
    """Release values for ``rows`` of one environment, with their services."""
    numbers = [row.number for row in rows]
    services: dict[int, list[ReleaseService]] = {n: [] for n in numbers}
    if numbers:
        for s in conn.execute(
            select(release_services)
            .where(release_services.c.env == env, release_services.c.number.in_(numbers))
            .order_by(release_services.c.number, release_services.c.position)
        ):
            services[s.number].append(
                ReleaseService(
                    name=s.name,
                    image=s.image,
                    digest=s.digest,
                    commit=s.commit,
                    dirty=bool(s.dirty),
                    params_commit=s.params_commit,
                    spec_hash=s.spec_hash,
                )
            )
    return [
        Release(
            env=row.env,
            number=row.number,
            kind=checked(row.kind, RELEASE_KINDS, "release kind"),
            status=checked(row.status, RELEASE_STATUSES, "release status"),
            actor=row.actor,
            started_at=utc(row.started_at),
            finished_at=utc(row.finished_at) if row.finished_at is not None else None,
            duration=row.duration,
            source=row.source,
            services=tuple(services[row.number]),
            plan=row.plan,
            desired=row.desired,
            error=row.error,
        )
        for row in rows
    ]
