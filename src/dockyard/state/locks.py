"""Deploy locks: one per environment, held under a lease.

A lock is a row keyed by the environment. Taking it is one atomic statement,
``INSERT ... ON CONFLICT (env) DO UPDATE ... WHERE expires_at <= now``: it
inserts a free lock, takes over one whose lease ran out (its holder died), and
changes nothing when a live holder has it. Leases are measured by the
database's clock, so that hosts with skewed clocks agree on when a lease ends.

A holder on this host whose process is dead (``dockyard.state.liveness``) does
not keep its lock for the rest of its lease: the same statement takes it over,
with ``... OR token = <the dead holder's token>`` in its condition. The token
changes with every acquisition, so when two processes find the same dead
holder at once, exactly one of them matches it; the other sees the winner.
"""

from __future__ import annotations

import secrets
import time

from sqlalchemy import Connection, delete, or_, select, update

from dockyard.state.db import Database, db_now
from dockyard.state.errors import LockHeld, LockLost
from dockyard.state.records import Lock, LockHolder, LockInfo, utc
from dockyard.state.tables import locks

POLL_INTERVAL = 0.2
"""Seconds between attempts while waiting for a lock."""


Held = tuple[LockInfo, str]
"""A lock as it was read, and its token (which never leaves this module)."""


class LockTable:
    """The deploy-lock half of :class:`~dockyard.state.StateStore`."""

    _db: Database

    def acquire_lock(
        self, env: str, holder: LockHolder, lease: float, wait: float | None = None
    ) -> Lock:
        """Take the deploy lock of ``env`` for ``lease`` seconds (renew it before
        then). A lock whose lease ran out is taken over, and so is the lock of a
        holder on this host whose process is dead (``Lock.took_over`` names it).
        When a live holder has it, raise :class:`LockHeld` at once, or poll for up
        to ``wait`` seconds first."""
        if lease <= 0:
            raise ValueError(f"a lock lease must be positive, not {lease}")
        deadline = time.monotonic() + wait if wait else None
        while True:
            lock, held = self._try_acquire(env, holder, lease)
            if lock is None and held is not None and held[0].liveness.dead:
                lock, held = self._try_acquire(env, holder, lease, dead=held)
            if lock is not None:
                return lock
            if held is None:  # released between two statements: try again at once
                continue
            info = held[0]
            if deadline is None:
                raise LockHeld(info)
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockHeld(info, waited=wait)
            time.sleep(min(POLL_INTERVAL, left))

    def renew(self, lock: Lock) -> None:
        """Extend the lease by ``lock.lease`` from now; :class:`LockLost` when the
        lock is no longer this holder's (force-released, or taken over after expiry)."""
        with self._db.write() as conn:
            row = conn.execute(
                update(locks)
                .where(locks.c.env == lock.env, locks.c.token == lock.token)
                .values(expires_at=db_now() + lock.lease)
                .returning(locks.c.expires_at)
            ).one_or_none()
            if row is None:
                held = _info(conn, lock.env)
                info = held[0] if held else None
                raise LockLost(
                    lock.env,
                    "its lease ran out and another process took it over"
                    if info is not None
                    else "someone released it (`dockyard lock release`)",
                    now_held_by=info,
                )

    def release(self, lock: Lock) -> bool:
        """Give the lock up; False when it was no longer this holder's."""
        with self._db.write() as conn:
            gone = conn.execute(
                delete(locks).where(locks.c.env == lock.env, locks.c.token == lock.token)
            )
            return gone.rowcount > 0

    def lock_status(self, env: str) -> LockInfo | None:
        """Who holds the deploy lock of ``env``, if anyone (possibly expired)."""
        with self._db.read() as conn:
            held = _info(conn, env)
            return held[0] if held else None

    def force_release(self, env: str) -> LockInfo | None:
        """Remove the deploy lock of ``env`` whoever holds it; return what it was.
        For a holder that died: a live holder learns at its next renewal."""
        with self._db.write() as conn:
            held = _info(conn, env)
            if held is not None:
                conn.execute(delete(locks).where(locks.c.env == env))
            return held[0] if held else None

    def _try_acquire(
        self, env: str, holder: LockHolder, lease: float, dead: Held | None = None
    ) -> tuple[Lock | None, Held | None]:
        """One attempt: take a free or expired lock, or (``dead``) the lock of that
        dead holder if it still has it. Returns the lock, or who holds it."""
        token = secrets.token_hex(16)
        values = {
            "token": token,
            "actor": holder.actor,
            "host": holder.host,
            "pid": holder.pid,
            "command": holder.command,
            "pid_start": holder.started,
            "pid_space": holder.space,
            "lease": lease,
            "started_at": db_now(),
            "expires_at": db_now() + lease,
        }
        takeable = locks.c.expires_at <= db_now()
        if dead is not None:
            takeable = or_(takeable, locks.c.token == dead[1])
        statement = (
            self._db.upsert(locks)
            .values(env=env, **values)
            .on_conflict_do_update(index_elements=[locks.c.env], set_=values, where=takeable)
            .returning(locks.c.token, locks.c.started_at, locks.c.expires_at)
        )
        with self._db.write() as conn:
            row = conn.execute(statement).one_or_none()
            if row is not None and row.token == token:
                lock = Lock(
                    env=env,
                    holder=holder,
                    lease=lease,
                    started_at=utc(row.started_at),
                    expires_at=utc(row.expires_at),
                    token=token,
                    took_over=dead[0] if dead is not None else None,
                )
                return lock, None
            return None, _info(conn, env)


def _info(conn: Connection, env: str) -> Held | None:
    row = conn.execute(select(locks, db_now().label("now")).where(locks.c.env == env)).one_or_none()
    if row is None:
        return None
    holder = LockHolder(
        actor=row.actor,
        host=row.host,
        pid=row.pid,
        command=row.command,
        started=row.pid_start,
        space=row.pid_space,
    )
    info = LockInfo(
        env=row.env,
        holder=holder,
        started_at=utc(row.started_at),
        expires_at=utc(row.expires_at),
        checked_at=utc(row.now),
        expired=row.expires_at <= row.now,
        liveness=holder.liveness(),
    )
    return info, row.token
