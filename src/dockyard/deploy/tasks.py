"""One-off tasks: which a release runs, running them, and recording every run.

A ``before-deploy`` task (a migration) runs once per release, after the image is
shipped and before any replica changes; one that already succeeded for the same
image and task definition is skipped. ``after-deploy`` tasks (smoke tests) run
once the rollout is done, whenever a release changes something. What the runs
so far say is read from the state store before planning (``task_history``);
deciding which tasks run reads nothing (``task_steps``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from dockyard.engines.model import NO_SECRETS, OneOffResult, SecretValues
from dockyard.engines.oneoff import OneOffs
from dockyard.errors import DeployError
from dockyard.events import Event, EventKind, Reporter
from dockyard.plan.model import DesiredState, OneOffDef, TaskStep
from dockyard.state import StateStore, TaskRun, TaskStatus

LOG_LINES = 20


class TaskFailed(DeployError):
    """A one-off task exited non-zero or ran out of time."""

    code = "DY510"

    def __init__(self, task: OneOffDef, result: OneOffResult) -> None:
        what = (
            f"was killed after its timeout of {task.timeout:g}s"
            if result.timed_out
            else f"exited with code {result.exit_code}"
        )
        tail = result.log_tail.rstrip("\n").splitlines()[-LOG_LINES:]
        lines = [f"task {task.service}/{task.name} {what}", f"last {len(tail)} log lines:"]
        lines += [f"  {line}" for line in tail] or ["  (no output)"]
        super().__init__(
            "\n".join(lines),
            hint="Fix the task (its log lines are above; `dockyard history ENV --tasks` keeps "
            "them), then release again. Nothing was replaced."
            if task.when == "before-deploy"
            else "Fix the task, then release again.",
        )
        self.task = task
        self.result = result


def image_key(image: str) -> str:
    """What "the same image" means for a task: the digest, or a local image ID."""
    return image.partition("@")[2] or image


TaskKey = tuple[str, str, str, str]
"""A before-deploy task as its runs are matched: service, task, image, definition hash."""


def task_key(task: OneOffDef) -> TaskKey:
    return (task.service, task.name, image_key(task.container.image), task.definition_hash())


@dataclass(frozen=True)
class TaskHistory:
    """What a plan needs of the task runs: the newest succeeded run of each
    before-deploy task on its image with its definition, since the environment's
    data was last reset. A task that has none is not in ``succeeded``."""

    succeeded: Mapping[TaskKey, TaskRun] = field(default_factory=dict)

    def success(self, task: OneOffDef) -> TaskRun | None:
        return self.succeeded.get(task_key(task))


def task_history(
    store: StateStore, desired: DesiredState, only: Collection[str] | None
) -> TaskHistory:
    """Read from ``store`` the runs that decide which before-deploy tasks of
    ``desired`` (of ``only``) a release runs."""
    found: dict[TaskKey, TaskRun] = {}
    for task in _tasks_of(desired, only):
        if task.when != "before-deploy":
            continue
        key = task_key(task)
        done = store.last_task_success(desired.environment, *key)
        if done is not None:
            found[key] = done
    return TaskHistory(found)


def task_steps(
    desired: DesiredState,
    history: TaskHistory,
    only: Collection[str] | None,
    *,
    changes: bool,
    rerun: bool = False,
) -> list[TaskStep]:
    """The before- and after-deploy tasks of a release, each marked to run or skip.
    ``changes``: whether the release replaces or starts anything (after-deploy tasks
    run only then, or when a before-deploy task runs). Pure: ``history`` holds what
    the runs so far say."""
    steps: list[TaskStep] = []
    for task in _tasks_of(desired, only):
        if task.when == "manual":
            continue
        if task.when == "after-deploy":
            run, reason = True, "after every rollout"
        else:
            done = history.success(task)
            if done is None:
                run, reason = True, "new image or task definition"
            elif rerun:
                run, reason = True, "rerun asked for"
            else:
                where = f"release #{done.release}" if done.release else "an earlier run"
                run, reason = False, f"succeeded with this image in {where}"
        steps.append(
            TaskStep(  # after-deploy steps are settled below
                service=task.service,
                task=task.name,
                when=task.when,
                command=list(task.container.command or []),
                image=task.container.image,
                run=run,
                reason=reason,
            )
        )
    changing = changes or any(s.run for s in steps if s.when == "before-deploy")
    return [
        s
        if s.when == "before-deploy" or changing
        else s.model_copy(update={"run": False, "reason": "nothing changes"})
        for s in steps
    ]


def _tasks_of(desired: DesiredState, only: Collection[str] | None) -> list[OneOffDef]:
    """The one-off tasks of the services of ``desired`` (of ``only``)."""
    return [
        task
        for service in desired.services
        if only is None or service.name in only
        for task in service.tasks
    ]


@dataclass(frozen=True)
class Runner:
    """Runs one-off tasks of one environment and records each run."""

    engine: OneOffs
    store: StateStore
    desired: DesiredState
    report: Reporter
    secrets: SecretValues = NO_SECRETS

    def run_steps(self, steps: list[TaskStep], when: str, release: int) -> None:
        for step in steps:
            if step.when != when or not step.run:
                continue
            task = self.desired.service(step.service).task_named(step.task)
            assert task is not None  # the steps come from this desired state
            result = self.run(task, release)
            if result.exit_code != 0:
                raise TaskFailed(task, result)

    def run(self, task: OneOffDef, release: int | None) -> OneOffResult:
        """Run ``task`` once, streaming its output as ``task`` events; record it."""
        self.report(Event("phase", task.service, f"task {task.service}/{task.name}"))

        def output(line: str) -> None:
            self.report(Event("task", task.service, line))

        result = self.engine.run_oneoff(
            self.desired, task, str(release or ""), output, self.secrets
        )
        status: TaskStatus = (
            "timed-out" if result.timed_out else "succeeded" if result.exit_code == 0 else "failed"
        )
        self.store.record_task_run(
            self.desired.environment,
            release=release,
            service=task.service,
            task=task.name,
            command=list(task.container.command or []),
            digest=image_key(task.container.image),
            definition_hash=task.definition_hash(),
            status=status,
            exit_code=result.exit_code,
            duration=result.seconds,
            log_tail=result.log_tail,
        )
        mark: EventKind = "ready" if status == "succeeded" else "warn"
        self.report(
            Event(
                mark,
                task.service,
                f"task {task.name} {status} (exit {result.exit_code}, {result.seconds:.1f}s)",
            )
        )
        return result
