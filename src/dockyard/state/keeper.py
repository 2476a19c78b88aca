"""Holding a deploy lock for as long as a deploy runs."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from dockyard.errors import StateError
from dockyard.state.errors import LockLost
from dockyard.state.locks import LockTable
from dockyard.state.records import Lock, LockHolder


class LockKeeper:
    """Acquire the deploy lock of ``env`` on entry, renew it every ``lease / 3``
    seconds in a daemon thread, and release it on exit — also when the block
    raises.

    If a renewal finds the lock taken over (or cannot reach the database for a
    whole lease), the keeper stops renewing and remembers it: :meth:`check`
    then raises :class:`LockLost`, so a deploy calls it between steps and stops.
    Leaving the block does not raise it; check before recording an outcome.
    """

    def __init__(
        self,
        store: LockTable,
        env: str,
        holder: LockHolder,
        lease: float,
        *,
        wait: float | None = None,
    ) -> None:
        self._store = store
        self._env = env
        self._holder = holder
        self._lease = lease
        self._wait = wait
        self._lock: Lock | None = None
        self._lost: LockLost | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.renewals = 0

    def __enter__(self) -> LockKeeper:
        self._lock = self._store.acquire_lock(self._env, self._holder, self._lease, self._wait)
        self._lost = None
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._renew_until_stopped,
            args=(self._lock, time.monotonic()),
            name=f"dockyard-lock-{self._env}",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._lock is None:
            return
        try:
            self._store.release(self._lock)
        except StateError:
            if exc is None:
                raise
            # The block's own error matters more; the lease frees the lock anyway.

    @property
    def lock(self) -> Lock:
        if self._lock is None:
            raise RuntimeError("the lock is held only inside the `with` block")
        return self._lock

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def check(self) -> None:
        """Raise :class:`LockLost` if the lock is no longer held."""
        if self._lost is not None:
            raise self._lost

    def _renew_until_stopped(self, lock: Lock, renewed: float) -> None:
        # ``renewed``: monotonic time before the last successful renewal began;
        # the database's lease certainly outlasts it by ``lease`` seconds.
        while not self._stop.wait(self._lease / 3):
            attempt = time.monotonic()
            try:
                self._store.renew(lock)
            except LockLost as e:
                self._lost = e
                return
            except Exception as e:  # any other failure: retried until the lease is surely gone
                if time.monotonic() - renewed >= self._lease:
                    self._lost = LockLost(
                        self._env, f"it could not be renewed within its {self._lease:g}s lease: {e}"
                    )
                    return
            else:
                renewed = attempt
                self.renewals += 1
