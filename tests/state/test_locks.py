"""Deploy locks: one holder per environment, leases, takeover after a holder dies,
and processes racing for a lock."""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from dockyard.spec.environment import StateConfig
from dockyard.state import LockHeld, LockHolder, LockInfo, LockLost, StateStore, locks

from .conftest import OpenStore
from .support import LockProcess, dead_holder, eventually, holder_of, sleeper

ALICE = LockHolder(actor="alice@laptop", host="laptop", pid=4242, command="release")
BOB = LockHolder(actor="ci:deployer", host="runner-7", pid=77, command="rollback")


def _expired(store: StateStore, env: str = "staging") -> LockInfo | None:
    info = store.lock_status(env)
    return info if info is not None and info.expired else None


def test_acquire_and_release(store: StateStore) -> None:
    assert store.lock_status("staging") is None
    lock = store.acquire_lock("staging", ALICE, lease=30)
    assert (lock.env, lock.holder, lock.lease) == ("staging", ALICE, 30)
    assert len(lock.token) == 32 and lock.token not in repr(lock)
    assert (lock.expires_at - lock.started_at).total_seconds() == pytest.approx(30, abs=1e-3)

    info = store.lock_status("staging")
    assert info is not None
    assert (info.holder, info.started_at, info.expires_at) == (
        ALICE,
        lock.started_at,
        lock.expires_at,
    )
    assert not info.expired and 0 < info.expires_in <= 30

    assert store.acquire_lock("prod", BOB, lease=30).env == "prod"  # one lock per environment
    assert store.release(lock) is True
    assert store.lock_status("staging") is None
    assert store.release(lock) is False
    assert store.acquire_lock("staging", BOB, lease=30).holder == BOB


def test_a_held_lock_names_its_holder(open_stores: OpenStore) -> None:
    mine, theirs = open_stores(), open_stores()
    lock = theirs.acquire_lock("staging", BOB, lease=60)
    with pytest.raises(LockHeld) as caught:
        mine.acquire_lock("staging", ALICE, lease=60)
    error = caught.value
    assert error.code == "DY601"
    assert error.info.holder == BOB
    since = lock.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    until = lock.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert error.message.startswith(
        "environment 'staging' is locked: held by ci:deployer (host runner-7, pid 77, "
        f"command 'rollback') since {since}; its lease expires at {until} (in "
    )
    assert re.search(r"\(in \d+s\)$", error.message)
    assert error.hint == (
        "wait for it with --wait, or, if that process is dead, free the lock with "
        "`dockyard lock release staging`"
    )


def test_renew_extends_the_lease(store: StateStore) -> None:
    lock = store.acquire_lock("staging", ALICE, lease=30)

    def renewed_later() -> bool:
        store.renew(lock)
        info = store.lock_status("staging")
        return info is not None and info.expires_at > lock.expires_at

    eventually(renewed_later, "a renewal to move the expiry later")


def test_an_expired_lease_is_taken_over(open_stores: OpenStore) -> None:
    dead, alive = open_stores(), open_stores()
    old = dead.acquire_lock("staging", ALICE, lease=0.5)
    expired = eventually(lambda: _expired(alive), "the lease to run out")
    assert expired.holder == ALICE and expired.expires_in <= 0
    assert "lease expired at" in str(LockHeld(expired))

    new = alive.acquire_lock("staging", BOB, lease=30)
    assert new.token != old.token
    with pytest.raises(LockLost) as caught:
        dead.renew(old)
    assert caught.value.code == "DY602"
    assert "took it over" in caught.value.message and "ci:deployer" in caught.value.message
    assert dead.release(old) is False  # the old holder cannot free the new holder's lock
    status = alive.lock_status("staging")
    assert status is not None and status.holder == BOB


def test_force_release(open_stores: OpenStore) -> None:
    holder, admin = open_stores(), open_stores()
    lock = holder.acquire_lock("staging", ALICE, lease=60)
    assert admin.force_release("prod") is None
    freed = admin.force_release("staging")
    assert freed is not None and freed.holder == ALICE and not freed.expired
    assert admin.lock_status("staging") is None
    with pytest.raises(LockLost, match="someone released it"):
        holder.renew(lock)


def test_wait_takes_the_lock_once_it_is_free(
    open_stores: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder, waiter = open_stores(), open_stores()
    lock = holder.acquire_lock("staging", ALICE, lease=60)
    polling = threading.Event()

    def sleep(seconds: float) -> None:  # the waiter's pause between attempts
        polling.set()
        time.sleep(seconds)

    monkeypatch.setattr(locks, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))

    def release_once_polling() -> None:
        polling.wait(20)
        holder.release(lock)

    releaser = threading.Thread(target=release_once_polling)
    releaser.start()
    try:
        got = waiter.acquire_lock("staging", BOB, lease=60, wait=20)
    finally:
        polling.set()
        releaser.join()
    assert got.holder == BOB


def test_wait_gives_up_at_its_deadline(open_stores: OpenStore) -> None:
    holder, waiter = open_stores(), open_stores()
    holder.acquire_lock("staging", ALICE, lease=60)
    with pytest.raises(LockHeld, match=r"is locked after waiting 0\.3s: held by alice@laptop"):
        waiter.acquire_lock("staging", BOB, lease=60, wait=0.3)


def test_wait_takes_over_a_lease_that_runs_out(open_stores: OpenStore) -> None:
    dead, waiter = open_stores(), open_stores()
    dead.acquire_lock("staging", ALICE, lease=0.5)
    assert waiter.acquire_lock("staging", BOB, lease=30, wait=20).holder == BOB


@pytest.mark.parametrize("apart", [0.0, 0.1], ids=["together", "100ms-apart"])
def test_processes_racing_for_a_lock_one_wins(
    state_config: StateConfig, repo: Path, store: StateStore, apart: float
) -> None:
    racers = [
        LockProcess.start(state_config, repo, "staging", lease=30, actor=f"racer-{i}")
        for i in range(2)
    ]
    try:
        for racer in racers:
            racer.wait_ready()
        racers[0].go()
        racers[1].go(delay=apart)
        results = [racer.read() for racer in racers]
        winners = [r for r in results if r["won"]]
        losers = [r for r in results if not r["won"]]
        assert len(winners) == 1 and len(losers) == 1
        assert losers[0]["holder_pid"] == winners[0]["pid"]
        assert f"pid {winners[0]['pid']}" in losers[0]["message"]
        info = store.lock_status("staging")
        assert info is not None and info.holder.pid == winners[0]["pid"]
        assert [racer.finish() for racer in racers] == [0, 0]
    finally:
        for racer in racers:
            racer.kill()
    assert store.lock_status("staging") is None  # the winner released it on the way out


def test_a_killed_holders_lock_is_taken_after_its_lease(
    state_config: StateConfig, repo: Path, store: StateStore
) -> None:
    victim = LockProcess.start(state_config, repo, "staging", lease=1.0, actor="victim")
    try:
        victim.wait_ready()
        victim.go()
        assert victim.read()["won"] is True
        pid = victim.process.pid
        victim.kill()  # SIGKILL: no chance to release
        assert victim.process.returncode == -9
    finally:
        victim.kill()
    left = store.lock_status("staging")
    assert left is not None and left.holder.pid == pid and left.holder.actor == "victim"
    me = LockHolder.current("release", actor="survivor")
    lock = store.acquire_lock("staging", me, lease=30, wait=20)
    assert lock.holder.pid == os.getpid()
    info = store.lock_status("staging")
    assert info is not None and info.holder.actor == "survivor"


def test_a_dead_holders_lock_is_taken_over_at_once(open_stores: OpenStore) -> None:
    mine = open_stores()
    dead = dead_holder()
    open_stores().acquire_lock("staging", dead, lease=300)

    info = mine.lock_status("staging")
    assert info is not None and info.holder == dead
    assert not info.expired and info.expires_in > 200  # its lease alone would keep it
    assert info.liveness.describe() == f"dead (pid {dead.pid} is gone)"

    me = LockHolder.current("release", actor="survivor")
    lock = mine.acquire_lock("staging", me, lease=30)  # no --wait: at once
    assert lock.holder == me
    assert lock.took_over is not None and lock.took_over.holder == dead
    assert lock.took_over.liveness.reason == f"pid {dead.pid} is gone"
    now = mine.lock_status("staging")
    assert now is not None and now.holder == me and now.liveness.alive is True


def test_a_reused_pid_does_not_keep_a_dead_holders_lock(open_stores: OpenStore) -> None:
    store = open_stores()
    me = LockHolder.current("release", actor="me")
    assert me.started is not None
    earlier = replace(me, actor="earlier", started=me.started - 1)  # its pid, another process
    store.acquire_lock("staging", earlier, lease=300)
    lock = store.acquire_lock("staging", me, lease=30)
    assert lock.took_over is not None and lock.took_over.holder == earlier
    assert lock.took_over.liveness.reason == f"pid {me.pid} now belongs to another process"


def test_a_live_holder_on_this_host_keeps_its_lock(open_stores: OpenStore) -> None:
    process = sleeper()
    try:
        live = holder_of(process, "busy@host")
        open_stores().acquire_lock("staging", live, lease=300)
        with pytest.raises(LockHeld) as caught:
            open_stores().acquire_lock("staging", LockHolder.current("release"), lease=30)
        assert caught.value.info.liveness.describe() == f"alive (pid {process.pid} runs)"
    finally:
        process.kill()
        process.wait(timeout=30)


def test_a_holder_on_another_host_is_judged_by_its_lease_only(open_stores: OpenStore) -> None:
    elsewhere = replace(dead_holder(), host="runner-7", space="another-boot/pid:[4026531836]")
    open_stores().acquire_lock("staging", elsewhere, lease=300)
    with pytest.raises(LockHeld) as caught:
        open_stores().acquire_lock("staging", LockHolder.current("release"), lease=30)
    assert caught.value.info.liveness.alive is None
    assert caught.value.info.holder == elsewhere


def test_processes_finding_the_same_dead_holder_one_takes_it_over(
    state_config: StateConfig, repo: Path, store: StateStore
) -> None:
    dead = dead_holder()
    store.acquire_lock("staging", dead, lease=300)
    racers = [
        LockProcess.start(state_config, repo, "staging", lease=30, actor=f"racer-{i}", current=True)
        for i in range(2)
    ]
    try:
        for racer in racers:
            racer.wait_ready()
        for racer in racers:
            racer.go()
        results = [racer.read() for racer in racers]
        winners = [r for r in results if r["won"]]
        losers = [r for r in results if not r["won"]]
        assert len(winners) == 1 and len(losers) == 1, results
        assert winners[0]["took_over"] == dead.pid
        assert losers[0]["holder_pid"] == winners[0]["pid"]  # it saw the winner, alive
        info = store.lock_status("staging")
        assert info is not None and info.holder.pid == winners[0]["pid"]
        assert info.liveness.alive is True
        assert [racer.finish() for racer in racers] == [0, 0]
    finally:
        for racer in racers:
            racer.kill()
