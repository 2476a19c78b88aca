"""Task runs: recorded per environment and release, and found again by image and
definition so that a task that already succeeded need not run twice."""

from __future__ import annotations

from datetime import UTC, datetime

from dockyard.state import StateStore, TaskRun
from dockyard.state.tasks import LOG_TAIL_LIMIT

DIGEST = "sha256:" + "c" * 64


def _run(store: StateStore, **overrides: object) -> TaskRun:
    values: dict[str, object] = {
        "release": 1,
        "service": "api",
        "task": "migrate",
        "command": ["python3", "-m", "shop.migrate"],
        "digest": DIGEST,
        "definition_hash": "def1",
        "status": "succeeded",
        "exit_code": 0,
        "duration": 2.5,
        "log_tail": "applied 3 migrations\n",
    }
    values.update(overrides)
    return store.record_task_run("staging", **values)  # type: ignore[arg-type]


def test_a_recorded_run_reads_back(store: StateStore) -> None:
    started = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    run = _run(store, started_at=started)
    assert run.env == "staging" and run.release == 1
    assert (run.service, run.task, run.status, run.exit_code) == ("api", "migrate", "succeeded", 0)
    assert run.command == ("python3", "-m", "shop.migrate")
    assert run.digest == DIGEST and run.definition_hash == "def1"
    assert run.started_at == started and run.duration == 2.5
    assert run.log_tail == "applied 3 migrations\n"
    assert store.task_runs("staging") == [run]


def test_start_defaults_to_the_database_clock_less_the_duration(store: StateStore) -> None:
    run = _run(store, duration=3.0)
    assert abs((datetime.now(UTC) - run.started_at).total_seconds() - 3.0) < 60


def test_runs_by_release_newest_first(store: StateStore) -> None:
    first = _run(store, release=1)
    second = _run(store, release=2, task="seed")
    third = _run(store, release=2, status="failed", exit_code=3)
    _run(store, release=None)
    assert store.task_runs("staging", release=2) == [third, second]
    assert store.task_runs("staging", release=1) == [first]
    assert len(store.task_runs("staging")) == 4
    assert store.task_runs("prod") == []


def test_last_success_matches_image_and_definition(store: StateStore) -> None:
    assert store.last_task_success("staging", "api", "migrate", DIGEST, "def1") is None
    ok = _run(store)
    _run(store, status="failed", exit_code=1)
    _run(store, status="timed-out", exit_code=None)
    assert store.last_task_success("staging", "api", "migrate", DIGEST, "def1") == ok
    assert store.last_task_success("staging", "api", "migrate", DIGEST, "def2") is None
    assert store.last_task_success("staging", "api", "migrate", "sha256:other", "def1") is None
    assert store.last_task_success("staging", "api", "seed", DIGEST, "def1") is None
    assert store.last_task_success("staging", "worker", "migrate", DIGEST, "def1") is None
    assert store.last_task_success("prod", "api", "migrate", DIGEST, "def1") is None
    newer = _run(store)
    assert store.last_task_success("staging", "api", "migrate", DIGEST, "def1") == newer


def test_only_the_end_of_a_long_log_is_kept(store: StateStore) -> None:
    log = "".join(f"line {i}\n" for i in range(10_000))
    run = _run(store, log_tail=log)
    assert len(run.log_tail) == LOG_TAIL_LIMIT
    assert log.endswith(run.log_tail)
