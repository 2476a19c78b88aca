"""Work side by side: what runs at once, and what a failure stops."""

from __future__ import annotations

import threading

import pytest

from dockyard.parallel import Background, both, gather, together

DEADLINE = 10.0
"""Seconds a piece of work waits for the others to be running too."""


def test_every_piece_runs_at_the_same_time() -> None:
    # Each piece waits until all three are running: one after the other, they never meet.
    met = threading.Barrier(3, timeout=DEADLINE)
    together([met.wait, met.wait, met.wait])


def test_no_more_than_limit_run_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()
    pair = threading.Barrier(2, timeout=DEADLINE)

    def piece() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        pair.wait()  # two at a time meet; a third would find the barrier in use
        with lock:
            running -= 1

    together([piece] * 6, limit=2)
    assert most == 2


def test_a_failure_is_raised_and_stops_what_has_not_started() -> None:
    ran: list[str] = []

    def fails() -> None:
        ran.append("fails")
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        together([lambda: ran.append("first"), fails, lambda: ran.append("never")], limit=1)
    assert ran == ["first", "fails"]


def test_a_failure_waits_for_the_pieces_that_run() -> None:
    started = threading.Event()
    finished: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(DEADLINE)
        finished.append("slow")

    def fails() -> None:
        assert started.wait(DEADLINE)
        release.set()
        raise RuntimeError("broken")

    release = threading.Event()
    with pytest.raises(RuntimeError):
        together([slow, fails])
    assert finished == ["slow"]


def test_background_work_is_joined_and_its_failures_raised() -> None:
    gate = threading.Event()
    done: list[int] = []
    work = Background()
    work.start(lambda: (gate.wait(DEADLINE), done.append(1)))
    work.start(lambda: 1 / 0)
    gate.set()
    with pytest.raises(ZeroDivisionError):
        work.join()
    assert done == [1]
    assert work.wait() == []  # failures are raised once


def test_gather_returns_each_result_by_its_key_in_order() -> None:
    met = threading.Barrier(3, timeout=DEADLINE)  # all three run at once

    def answer(value: int) -> int:
        met.wait()
        return value * 10

    found = gather({"c": lambda: answer(3), "a": lambda: answer(1), "b": lambda: answer(2)})
    assert list(found.items()) == [("c", 30), ("a", 10), ("b", 20)]


def test_both_returns_both_results_made_at_once() -> None:
    met = threading.Barrier(2, timeout=DEADLINE)

    def first() -> str:
        met.wait()
        return "one"

    def second() -> int:
        met.wait()
        return 2

    assert both(first, second) == ("one", 2)


def test_both_raises_what_either_raised() -> None:
    def broken() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        both(lambda: "fine", broken)
