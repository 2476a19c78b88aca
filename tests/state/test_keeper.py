"""LockKeeper: holds a deploy lock for as long as a block runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dockyard.state import LockHeld, LockHolder, LockKeeper, LockLost, StateStore

from .conftest import OpenStore
from .support import eventually

ALICE = LockHolder(actor="alice@laptop", host="laptop", pid=4242, command="release")
BOB = LockHolder(actor="ci:deployer", host="runner-7", pid=77, command="release")
LEASE = 0.6


def test_keeps_the_lock_beyond_its_lease(open_stores: OpenStore) -> None:
    store, other = open_stores(), open_stores()
    with LockKeeper(store, "staging", ALICE, LEASE) as keeper:
        first_expiry = keeper.lock.expires_at

        def well_past_the_first_lease() -> bool:
            info = store.lock_status("staging")
            assert info is not None
            return info.checked_at > first_expiry + timedelta(seconds=LEASE / 2)

        eventually(well_past_the_first_lease, "the first lease to be long over")
        info = other.lock_status("staging")
        assert info is not None and not info.expired and info.holder == ALICE
        with pytest.raises(LockHeld):
            other.acquire_lock("staging", BOB, lease=60)
        assert keeper.renewals >= 1
        assert not keeper.lost
        keeper.check()
    assert store.lock_status("staging") is None


def test_releases_the_lock_when_the_block_raises(store: StateStore) -> None:
    with (
        pytest.raises(RuntimeError, match="deploy failed"),
        LockKeeper(store, "staging", ALICE, LEASE),
    ):
        assert store.lock_status("staging") is not None
        raise RuntimeError("deploy failed")
    assert store.lock_status("staging") is None


def test_a_lost_lock_is_reported_by_check(open_stores: OpenStore) -> None:
    store, other = open_stores(), open_stores()
    with LockKeeper(store, "staging", ALICE, LEASE) as keeper:
        other.force_release("staging")
        other.acquire_lock("staging", BOB, lease=60)
        eventually(lambda: keeper.lost, "the keeper to notice")
        with pytest.raises(LockLost) as caught:
            keeper.check()
        assert "ci:deployer" in caught.value.message
    info = other.lock_status("staging")
    assert info is not None and info.holder == BOB  # leaving did not free BOB's lock


def test_a_held_lock_is_not_entered(open_stores: OpenStore) -> None:
    store, other = open_stores(), open_stores()
    other.acquire_lock("staging", BOB, lease=60)
    keeper = LockKeeper(store, "staging", ALICE, LEASE)
    with pytest.raises(LockHeld), keeper:
        pytest.fail("entered a held lock")
    with pytest.raises(RuntimeError, match="inside the `with` block"):
        keeper.lock  # noqa: B018 - the property raises
