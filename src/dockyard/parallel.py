"""Work side by side: engine calls that wait (a stop's grace period, a build, a
health check) run in threads of their own, so that waiting on one does not hold
up the others.

The threads are daemon threads: an interrupted command (Ctrl-C) ends without
waiting for the calls still in flight, as it would if they ran one after the
other. Whatever a piece of work raises is kept and raised again in the thread
that waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

Work = Callable[[], object]
K = TypeVar("K")
V = TypeVar("V")
A = TypeVar("A")
B = TypeVar("B")


class Background:
    """Work that goes on while its owner does something else; ``wait`` joins it."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._failures: list[BaseException] = []
        self._lock = threading.Lock()

    def start(self, work: Work) -> None:
        thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _run(self, work: Work) -> None:
        try:
            work()
        except BaseException as e:  # raised again by whoever waits for it
            with self._lock:
                self._failures.append(e)

    def wait(self) -> list[BaseException]:
        """Wait until every piece started so far has ended (also those started
        meanwhile); return what they raised, first failure first, and forget it."""
        while True:
            with self._lock:
                threads, self._threads = self._threads, []
            if not threads:
                break
            for thread in threads:
                thread.join()
        with self._lock:
            failures, self._failures = self._failures, []
        return failures

    def join(self) -> None:
        """Wait as ``wait`` does, then raise the first failure."""
        failures = self.wait()
        if failures:
            raise failures[0]


def together(work: Iterable[Work], limit: int | None = None) -> None:
    """Run the pieces of ``work`` at the same time, at most ``limit`` at once, and
    raise the first failure once every piece that started has ended. Once one has
    failed, no piece that has not started yet is started."""
    jobs = list(work)
    if len(jobs) <= 1:
        for job in jobs:
            job()
        return
    queue = iter(jobs)
    failed: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                job = None if failed else next(queue, None)
            if job is None:
                return
            try:
                job()
            except BaseException as e:
                with lock:
                    failed.append(e)

    workers = Background()
    for _ in range(min(limit or len(jobs), len(jobs))):
        workers.start(worker)
    workers.wait()
    if failed:
        raise failed[0]


def gather(calls: Mapping[K, Callable[[], V]], limit: int | None = None) -> dict[K, V]:
    """Make the ``calls`` at the same time (as ``together`` does); what each returned,
    by its key, in the order of ``calls``."""
    results: dict[K, V] = {}

    def call(key: K, fn: Callable[[], V]) -> Work:
        def run() -> None:
            results[key] = fn()

        return run

    together([call(key, fn) for key, fn in calls.items()], limit)
    return {key: results[key] for key in calls}


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """Make two calls at the same time; what each returned."""
    firsts: list[A] = []
    seconds: list[B] = []
    together([lambda: firsts.append(first()), lambda: seconds.append(second())])
    return firsts[0], seconds[0]
