"""Release history: numbering, outcomes, and the queries deploys and rollbacks use."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from dockyard.errors import StateError
from dockyard.state import Release, ReleaseNotFound, ReleaseService, StateStore

from .conftest import OpenStore

API = ReleaseService(
    name="api",
    image="registry.internal:5000/api@sha256:" + "a" * 64,
    digest="sha256:" + "a" * 64,
    commit="3f2c1e0",
    dirty=False,
    params_commit="9d8e7f6",
    spec_hash="0123456789ab",
)
WORKER = ReleaseService(name="worker", image="sha256:" + "b" * 64, dirty=True)


def _deploy(store: StateStore, env: str = "staging") -> Release:
    return store.start_release(env, "deploy", "alice@laptop", [API, WORKER])


def test_a_started_release_is_running_with_its_services(store: StateStore) -> None:
    before = datetime.now(UTC)
    release = _deploy(store)
    assert release.env == "staging"
    assert release.number == 1
    assert release.label == "staging#1"
    assert release.kind == "deploy"
    assert release.status == "running"
    assert release.actor == "alice@laptop"
    assert release.services == (API, WORKER)
    assert release.service("worker") == WORKER
    assert release.finished_at is None and release.duration is None
    assert release.plan is None and release.desired is None and release.error is None
    assert release.started_at.tzinfo is not None
    assert abs((release.started_at - before).total_seconds()) < 60  # same clock, roughly
    assert store.get("staging", 1) == release


def test_numbers_count_per_environment(store: StateStore) -> None:
    assert [_deploy(store).number for _ in range(3)] == [1, 2, 3]
    assert _deploy(store, "prod").number == 1
    promote = store.start_release("prod", "promote", "ci:deployer", [API], source="staging#3")
    assert (promote.number, promote.kind, promote.source) == (2, "promote", "staging#3")


def test_releases_started_at_once_get_distinct_numbers(open_stores: OpenStore) -> None:
    stores = [open_stores() for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    numbers: list[int] = []
    errors: list[BaseException] = []

    def start_five(store: StateStore) -> None:
        barrier.wait()
        try:
            numbers.extend(_deploy(store).number for _ in range(5))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start_five, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 21))
    assert [r.number for r in stores[0].history("staging", limit=50)] == list(range(20, 0, -1))


def test_finishing_records_outcome_plan_and_desired_state(store: StateStore) -> None:
    release = _deploy(store)
    plan = {"steps": [{"action": "replace", "service": "api", "slot": 1}], "empty": False}
    desired = {"services": {"api": {"replicas": 2, "secrets": ["DATABASE_URL"]}}}
    done = store.finish_release("staging", release.number, "succeeded", plan=plan, desired=desired)
    assert done.status == "succeeded"
    assert done.plan == plan and done.desired == desired
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert done.duration is not None and done.duration >= 0
    elapsed = (done.finished_at - done.started_at).total_seconds()
    assert done.duration == pytest.approx(elapsed, abs=1e-3)
    assert store.get("staging", release.number) == done

    failed = store.finish_release(
        "staging", _deploy(store).number, "failed", plan=plan, desired=None, error="api: unhealthy"
    )
    assert (failed.status, failed.error, failed.desired) == ("failed", "api: unhealthy", None)


def test_the_work_before_the_record_counts_in_start_and_duration(store: StateStore) -> None:
    """A release's build and push come before its record: they are part of it."""
    before = datetime.now(UTC)
    release = store.start_release("staging", "deploy", "alice@laptop", [API], prepared=40.0)
    assert (before - release.started_at).total_seconds() == pytest.approx(40.0, abs=5.0)
    done = store.finish_release("staging", release.number, "succeeded", plan=None, desired=None)
    assert done.duration is not None and done.duration >= 40.0


def test_an_outcome_is_recorded_once(store: StateStore) -> None:
    number = _deploy(store).number
    store.finish_release("staging", number, "failed", plan=None, desired=None, error="boom")
    with pytest.raises(StateError, match="already failed"):
        store.finish_release("staging", number, "succeeded", plan=None, desired=None)
    assert store.get("staging", number).status == "failed"


def test_history_is_newest_first_and_limited(store: StateStore) -> None:
    for _ in range(4):
        _deploy(store)
    _deploy(store, "prod")
    assert [r.number for r in store.history("staging")] == [4, 3, 2, 1]
    assert [r.number for r in store.history("staging", limit=2)] == [4, 3]
    assert all(r.services == (API, WORKER) for r in store.history("staging"))
    assert store.history("nowhere") == []


def test_a_missing_release_names_recent_ones(store: StateStore) -> None:
    with pytest.raises(ReleaseNotFound) as empty:
        store.get("staging", 1)
    assert empty.value.hint == "'staging' has no recorded releases yet"
    for _ in range(7):
        _deploy(store)
    with pytest.raises(ReleaseNotFound) as caught:
        store.get("staging", 42)
    assert caught.value.code == "DY603"
    assert caught.value.message == "environment 'staging' has no release #42"
    assert caught.value.hint == (
        "recent releases: #7, #6, #5, #4, #3 (see `dockyard history staging`)"
    )


def test_last_succeeded(store: StateStore) -> None:
    assert store.last_succeeded("staging") is None
    outcomes = ["succeeded", "succeeded", "failed", "succeeded", "failed"]
    for outcome in outcomes:
        n = _deploy(store).number
        store.finish_release("staging", n, outcome, plan=None, desired=None)  # type: ignore[arg-type]
    _deploy(store)  # running
    last = store.last_succeeded("staging")
    assert last is not None and last.number == 4
    assert last.services == (API, WORKER)
    assert [store.last_succeeded("staging", before=b) for b in (4, 2, 1)] == [
        store.get("staging", 2),
        store.get("staging", 1),
        None,
    ]


def test_mark_interrupted_closes_running_releases(store: StateStore) -> None:
    dead = _deploy(store).number
    finished = _deploy(store).number
    store.finish_release("staging", finished, "succeeded", plan=None, desired=None)
    other_env = _deploy(store, "prod").number
    current = _deploy(store).number

    assert store.mark_interrupted("staging", except_number=current) == [dead]
    marked = store.get("staging", dead)
    assert marked.status == "interrupted"
    assert marked.finished_at is not None and marked.duration is not None
    assert marked.error and "stopped before it finished" in marked.error
    assert store.get("staging", finished).status == "succeeded"
    assert store.get("staging", current).status == "running"
    assert store.get("prod", other_env).status == "running"
    assert store.mark_interrupted("staging") == [current]
    assert store.mark_interrupted("staging") == []


def test_invalid_values_are_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="kind"):
        store.start_release("staging", "yolo", "a", [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="each service once"):
        store.start_release("staging", "deploy", "a", [API, API])
    n = _deploy(store).number
    with pytest.raises(ValueError, match="finishes as"):
        store.finish_release("staging", n, "running", plan=None, desired=None)  # type: ignore[arg-type]
    assert store.history("staging")[0].number == n  # nothing was recorded by the refusals


def test_an_adopted_release_starts_a_history_after_what_runs(store: StateStore) -> None:
    assert not store.has_history("staging")
    adopted = store.adopt_release("staging", 25, "alice@laptop", [API])
    assert (adopted.number, adopted.kind, adopted.status) == (25, "adopt", "succeeded")
    assert adopted.services == (API,) and adopted.desired is None and adopted.plan is None
    assert adopted.finished_at is not None and adopted.duration == 0.0
    assert store.has_history("staging") and not store.has_history("prod")
    assert _deploy(store).number == 26
    assert store.last_succeeded("staging") == adopted  # until #26 succeeds
    assert [r.number for r in store.history("staging")] == [26, 25]


def test_adopting_is_refused_where_there_is_a_history(store: StateStore) -> None:
    _deploy(store)
    with pytest.raises(StateError, match=r"already has a history \(up to release #1\)"):
        store.adopt_release("staging", 25, "alice@laptop", [API])
    with pytest.raises(ValueError, match="adopt"):
        store.start_release("staging", "adopt", "alice@laptop", [API])
    assert [r.number for r in store.history("staging")] == [1]
