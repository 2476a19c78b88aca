"""One-off tasks: which a release runs, running them, and recording every run.

A ``before-deploy`` task (a migration) runs once per release, after the image is
shipped and before any replica changes; one that already succeeded for the same
image and task definition is skipped. ``after-deploy`` tasks (smoke tests) run
once the rollout is done, whenever a release changes something.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from dockyard.engines.model import OneOffResult
from dockyard.engines.oneoff import OneOffs
from dockyard.errors import DeployError
from dockyard.events import Event, EventKind, Reporter
from dockyard.plan.model import DesiredState, OneOffDef, TaskStep
from dockyard.state import StateStore, TaskStatus

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


def task_steps(
    store: StateStore,
    desired: DesiredState,
    only: Collection[str] | None,
    *,
    changes: bool,
    rerun: bool = False,
) -> list[TaskStep]:
    """The before- and after-deploy tasks of a release, each marked to run or skip.
    ``changes``: whether the release replaces or starts anything (after-deploy tasks
    run only then, or when a before-deploy task runs)."""
    steps: list[TaskStep] = []
    env = desired.environment
    for service in desired.services:
        if only is not None and service.name not in only:
            continue
        for task in service.tasks:
            if task.when == "manual":
                continue
            image = task.container.image
            if task.when == "after-deploy":
                run, reason = True, "after every rollout"
            else:
                done = store.last_task_success(
                    env, service.name, task.name, image_key(image), task.definition_hash()
                )
                if done is None:
                    run, reason = True, "new image or task definition"
                elif rerun:
                    run, reason = True, "rerun asked for"
                else:
                    where = f"release #{done.release}" if done.release else "an earlier run"
                    run, reason = False, f"succeeded with this image in {where}"
            steps.append(
                TaskStep(  # after-deploy steps are settled below
                    service=service.name,
                    task=task.name,
                    when=task.when,
                    command=list(task.container.command or []),
                    image=image,
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


@dataclass(frozen=True)
class Runner:
    """Runs one-off tasks of one environment and records each run."""

    engine: OneOffs
    store: StateStore
    desired: DesiredState
    report: Reporter

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
        """Run ``task`` once, streaming its output as ``output`` events; record it."""
        self.report(Event("phase", task.service, f"task {task.service}/{task.name}"))

        def output(line: str) -> None:
            self.report(Event("output", task.service, line))

        result = self.engine.run_oneoff(self.desired, task, str(release or ""), output)
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
