"""Which one-off tasks a release runs, with the history read from a real (SQLite)
state store."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.tasks import image_key, task_history, task_steps
from dockyard.plan.model import ContainerDef, DesiredState, ServiceDef, TaskDef, TaskStep
from dockyard.spec.environment import StateConfig
from dockyard.state import StateStore, open_store
from tests.unit.plan.states import release_tasks


def _desired(image: str = "reg/api@sha256:aaa", command: str = "migrate") -> DesiredState:
    main = ContainerDef(name="api", image=image)
    tasks = release_tasks("api", main, command)
    service = ServiceDef(name="api", task=TaskDef(containers=[main]), tasks=tasks)
    return DesiredState(environment="t", network="n", services=[service])


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return open_store(StateConfig(), tmp_path)


def _succeed(store: StateStore, desired: DesiredState, release: int = 1) -> None:
    task = desired.service("api").task_named("migrate")
    assert task is not None
    store.record_task_run(
        "t",
        release=release,
        service="api",
        task="migrate",
        command=["migrate"],
        digest=image_key(task.container.image),
        definition_hash=task.definition_hash(),
        status="succeeded",
        exit_code=0,
        duration=1.0,
    )


def _steps(
    store: StateStore,
    desired: DesiredState,
    only: set[str] | None,
    *,
    changes: bool,
    rerun: bool = False,
) -> list[TaskStep]:
    """The task steps of a plan, with the history read from ``store`` first."""
    history = task_history(store, desired, only)
    return task_steps(desired, history, only, changes=changes, rerun=rerun)


def _runs(steps: list[TaskStep]) -> list[tuple[str, bool]]:
    return [(s.task, s.run) for s in steps]


def test_new_image_runs_migration_and_smoke_but_never_manual_tasks(store: StateStore) -> None:
    steps = _steps(store, _desired(), None, changes=True)
    assert _runs(steps) == [("migrate", True), ("smoke", True)]


def test_a_migration_that_succeeded_for_this_digest_is_skipped(store: StateStore) -> None:
    desired = _desired()
    _succeed(store, desired)
    steps = _steps(store, desired, None, changes=False)
    assert _runs(steps) == [("migrate", False), ("smoke", False)]
    assert "release #1" in steps[0].reason
    assert _runs(_steps(store, desired, None, changes=False, rerun=True))[0] == (
        "migrate",
        True,
    )


def test_a_new_digest_or_definition_runs_it_again(store: StateStore) -> None:
    _succeed(store, _desired())
    assert _runs(_steps(store, _desired(image="reg/api@sha256:bbb"), None, changes=True))[0] == (
        "migrate",
        True,
    )
    assert _runs(_steps(store, _desired(command="migrate2"), None, changes=True))[0] == (
        "migrate",
        True,
    )


def test_only_limits_tasks_to_the_released_services(store: StateStore) -> None:
    assert _steps(store, _desired(), {"web"}, changes=True) == []


def test_removing_the_data_volumes_makes_migrations_run_again(store: StateStore) -> None:
    desired = _desired()
    _succeed(store, desired)
    assert _runs(_steps(store, desired, None, changes=False))[0] == ("migrate", False)
    store.reset_data("t")  # `dockyard down t --volumes`: the database is gone
    assert _runs(_steps(store, desired, None, changes=False))[0] == ("migrate", True)
    _succeed(store, desired, release=2)
    assert _runs(_steps(store, desired, None, changes=False))[0] == ("migrate", False)
