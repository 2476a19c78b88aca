"""Reading what the container list leaves open: crash loops and detached sidecars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockyard.engines.docker.observe import (
    CRASH_LOOPING,
    DETACHED,
    STABLE_AFTER,
    Inspected,
    needs_inspect,
    recently_up,
    settle,
)
from dockyard.plan.model import ActualContainer, ActualTask

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _task(*containers: ActualContainer) -> ActualTask:
    return ActualTask(
        task="t-api-1-abc", service="api", replica=1, spec_hash="abc", containers=list(containers)
    )


MAIN = ActualContainer(id="m", name="t-api-1-abc", container="api", role="main", status="running")
SIDECAR = ActualContainer(
    id="s", name="t-api-1-abc-stats", container="stats", role="sidecar", status="running"
)


def _ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_list_statuses_that_need_a_closer_look() -> None:
    assert recently_up("Up Less than a second")
    assert recently_up("Up 1 second (health: starting)")
    assert recently_up("Up 59 seconds (healthy)")
    assert not recently_up("Up About a minute")
    assert not recently_up("Up 3 hours (healthy)")
    assert not recently_up("Exited (1) 2 seconds ago")
    assert needs_inspect(_task(MAIN), {"m": "Up 3 seconds"})
    assert not needs_inspect(_task(MAIN), {"m": "Up 2 hours"})
    assert needs_inspect(_task(MAIN, SIDECAR), {"m": "Up 2 hours", "s": "Up 2 hours"})


def test_restarted_by_its_policy_and_not_up_long_is_crash_looping() -> None:
    task = settle(_task(MAIN), {"m": Inspected(_ago(STABLE_AFTER / 2), restarts=3)}, NOW)
    assert task.main is not None
    assert (task.main.status, task.main.restarts, task.main.live) == (CRASH_LOOPING, 3, False)
    assert not task.running


def test_restarted_long_ago_or_never_is_running() -> None:
    for detail in (Inspected(_ago(STABLE_AFTER * 3), restarts=3), Inspected(_ago(1), restarts=0)):
        task = settle(_task(MAIN), {"m": detail}, NOW)
        assert task.main is not None and task.main.status == "running" and task.main.live


def test_sidecar_started_before_its_main_is_detached() -> None:
    details = {"m": Inspected(_ago(60), restarts=1), "s": Inspected(_ago(120), restarts=0)}
    task = settle(_task(MAIN, SIDECAR), details, NOW)
    assert [c.status for c in task.containers] == ["running", DETACHED]
    later = {"m": Inspected(_ago(60), restarts=1), "s": Inspected(_ago(30), restarts=0)}
    assert [c.status for c in settle(_task(MAIN, SIDECAR), later, NOW).containers] == [
        "running",
        "running",
    ]
