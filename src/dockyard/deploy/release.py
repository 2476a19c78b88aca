"""Releases: the numbered, recorded, locked changes of an environment.

``release`` builds, ships and deploys; ``rollback`` redeploys what an earlier
release recorded; ``promote`` deploys what runs in one environment to another
by digest. All three compute what they will do the same way
(``dockyard.deploy.pipeline``), hold the environment's deploy lock for their
whole run, mark releases that a killed process left ``running`` as interrupted,
and record the outcome, the plan and the desired state they applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from dockyard.build.credentials import auth_config
from dockyard.build.registry import ensure_image
from dockyard.deploy import secret_values
from dockyard.deploy.apply import ApplyResult, apply
from dockyard.deploy.history import check_history
from dockyard.deploy.observed import observe
from dockyard.deploy.pipeline import Build, Carried, Planned, Recorded, prepare
from dockyard.deploy.planning import release_plan
from dockyard.deploy.promote import carry_images
from dockyard.deploy.serving import ServingEngine, wait_serving
from dockyard.deploy.ship import Shipped, params_commit
from dockyard.deploy.target import Target
from dockyard.deploy.tasks import Runner, TaskFailed
from dockyard.engines.model import SecretValues
from dockyard.errors import DeployError, DockyardError
from dockyard.events import Event, Reporter, silent
from dockyard.plan.model import DesiredState, Plan
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.state import LockHolder, LockKeeper, Release, ReleaseService, StateStore, actor
from dockyard.state.records import FinalStatus, ReleaseKind

PlanHook = Callable[[Plan], None]
"""Sees the plan before anything changes (the CLI prints it)."""


@dataclass(frozen=True)
class Outcome:
    """What a release did. ``release`` is None when there was nothing to change."""

    environment: str
    plan: Plan
    release: Release | None
    result: ApplyResult
    seconds: float


def release(
    target: Target,
    only: Collection[str] | None = None,
    *,
    force: bool = False,
    wait: float | None = None,
    rerun_tasks: bool = False,
    report: Reporter = silent,
    on_plan: PlanHook | None = None,
) -> Outcome:
    """Build → push → deploy → record, for the whole environment or ``only`` some services."""
    began = time.monotonic()
    env, engine = target.env, target.engine
    with _locked(target, "release", wait, report) as keeper:
        since = time.monotonic()  # the build and the release proper, not the wait
        planned = prepare(
            engine,
            env,
            Build(force=force),
            only,
            store=target.store,
            rerun_tasks=rerun_tasks,
            report=report,
            check=keeper.check,
        )
        records = _records(env, planned.desired, planned.shipped)
        rel = _Release("deploy", None, records, since)
        return _converge(target, planned, rel, keeper, report, began, on_plan)


def rollback(
    target: Target,
    only: Collection[str] | None = None,
    *,
    to: int | None = None,
    wait: float | None = None,
    report: Reporter = silent,
    on_plan: PlanHook | None = None,
) -> Outcome:
    """Redeploy the digests and configuration an earlier release recorded (no build).

    Without ``to``: the last succeeded release before the current one.
    """
    began = time.monotonic()
    env, store = target.env, target.store
    with _locked(target, "rollback", wait, report) as keeper:
        since = time.monotonic()  # the build and the release proper, not the wait
        chosen = _rollback_target(store, env.name, to)
        if chosen.desired is None:
            raise DeployError(f"release {chosen.label} recorded no desired state to return to")
        desired = DesiredState.model_validate(chosen.desired)
        names = {s.name for s in desired.services}
        if only is not None:
            unknown = sorted(set(only) - names)
            if unknown:
                raise DeployError(
                    f"release {chosen.label} did not deploy {', '.join(unknown)}",
                    hint=f"it deployed: {', '.join(sorted(names))}",
                )
            names &= set(only)
        desired = _restricted(desired, names)
        records = [s for s in chosen.services if s.name in names]
        report(Event("phase", "", f"rolling back to {chosen.label}"))
        # A rollback runs no tasks: the code it returns to must work with the
        # schema as it is (see docs/migrations.md). No task history, no task steps.
        planned = prepare(
            target.engine, env, Recorded(desired), names, report=report, check=keeper.check
        )
        rel = _Release("rollback", f"#{chosen.number}", records, since)
        return _converge(target, planned, rel, keeper, report, began, on_plan)


def promote(
    source: Target,
    dest: Target,
    only: Collection[str] | None = None,
    *,
    wait: float | None = None,
    rerun_tasks: bool = False,
    report: Reporter = silent,
    on_plan: PlanHook | None = None,
) -> Outcome:
    """Deploy what runs in ``source`` (by digest) to ``dest`` with dest's parameters."""
    began = time.monotonic()
    with _locked(dest, "promote", wait, report) as keeper:
        since = time.monotonic()  # the build and the release proper, not the wait
        images, records, label = carry_images(source, dest, only, report)
        names = set(images)
        planned = prepare(
            dest.engine,
            dest.env,
            Carried(images),
            names,
            store=dest.store,
            rerun_tasks=rerun_tasks,
            report=report,
            check=keeper.check,
        )
        records = [
            ReleaseService(
                name=r.name,
                image=images[r.name],
                digest=images[r.name].partition("@")[2] or None,
                commit=r.commit,
                dirty=r.dirty,
                params_commit=params_commit(dest.env, r.name),
                spec_hash=planned.desired.service(r.name).task.spec_hash(),
            )
            for r in records
        ]
        rel = _Release("promote", label, records, since)
        return _converge(dest, planned, rel, keeper, report, began, on_plan)


# ---------------------------------------------------------------------------


def deploy_lock(target: Target, command: str, wait: float | None) -> LockKeeper:
    """The environment's deploy lock for this process doing ``command``, with the
    environment's lease (use it as a context manager)."""
    env = target.env
    holder = LockHolder.current(command)
    return LockKeeper(target.store, env.name, holder, env.spec.lock.lease, wait=wait)


@contextmanager
def _locked(
    target: Target, command: str, wait: float | None, report: Reporter
) -> Iterator[LockKeeper]:
    """The deploy lock, held for a whole release; interrupted releases are marked.
    Nothing is written to a store that lost the environment's history."""
    env, store = target.env, target.store
    check_history(target.engine, env.name, store)
    report(Event("phase", "", f"taking the deploy lock of {env.name}"))
    with deploy_lock(target, command, wait) as keeper:
        dead = keeper.lock.took_over
        if dead is not None:
            holder, state = dead.holder.describe(), dead.liveness.describe()
            report(Event("warn", "", f"took the deploy lock over from {holder}: {state}"))
        stale = store.mark_interrupted(env.name)
        if stale:
            numbers = ", ".join(f"#{n}" for n in stale)
            report(Event("warn", "", f"releases {numbers} were interrupted; converging"))
        for name in target.engine.remove_oneoffs(env.name, deploy_only=True):
            report(Event("warn", "", f"removed {name}, a task a killed run left behind"))
        yield keeper


@dataclass(frozen=True)
class _Release:
    """How one release is recorded."""

    kind: ReleaseKind
    source: str | None
    records: Sequence[ReleaseService]
    since: float  # time.monotonic() when its work began: the lock taken, before the build


def _converge(
    target: Target,
    planned: Planned,
    rel: _Release,
    keeper: LockKeeper,
    report: Reporter,
    began: float,
    on_plan: PlanHook | None,
) -> Outcome:
    env, engine, store = target.env, target.engine, target.store
    desired, actual, steps = planned.desired, planned.actual, planned.plan
    _pull_missing(target, desired, report)
    if on_plan is not None:
        on_plan(steps)
    if steps.empty:
        return Outcome(env.name, steps, None, ApplyResult(), time.monotonic() - began)
    # Decrypted before anything changes: a key that cannot read a file stops here.
    secrets = secret_values.read_values(
        env, secret_values.used(desired), secret_values.running(actual)
    )
    record = store.start_release(
        env.name,
        rel.kind,
        actor(),
        list(rel.records),
        rel.source,
        prepared=time.monotonic() - rel.since,
    )
    number = record.number
    report(Event("phase", "", f"release {record.label}"))
    plan_json = steps.model_dump(mode="json")
    desired_json = desired.model_dump(mode="json")
    runner = Runner(engine, store, desired, report, secrets)

    def finish(status: FinalStatus, error: str | None = None) -> Release:
        return store.finish_release(
            env.name, number, status, plan=plan_json, desired=desired_json, error=error
        )

    # What the tasks need comes first: the network, volumes and accessories (a
    # migration needs its database). Then the tasks, then the services' replicas.
    infra, services = _split(steps)
    try:
        try:
            result = apply(
                engine, desired, actual, infra, str(number), report, keeper.check, secrets
            )
            runner.run_steps(steps.tasks, "before-deploy", number)
            keeper.check()
            done = apply(
                engine, desired, actual, services, str(number), report, keeper.check, secrets
            )
            result.started += done.started
            result.removed += done.removed
            if any(t.when == "after-deploy" and t.run for t in steps.tasks):
                _serving(engine, desired, report)
            runner.run_steps(steps.tasks, "after-deploy", number)
        except TaskFailed as failed:
            if failed.task.when == "after-deploy" and not failed.task.rollback_on_failure:
                raise
            _note(failed, _undo(target, steps, number, report, keeper, secrets))
            raise
        except DeployError as failed:
            _note(failed, _undo(target, steps, number, report, keeper, secrets))
            raise
    except KeyboardInterrupt:
        finish("interrupted")
        raise
    except Exception as e:
        finish("failed", str(e))
        raise
    return Outcome(env.name, steps, finish("succeeded"), result, time.monotonic() - began)


def _serving(engine: ServingEngine, desired: DesiredState, report: Reporter) -> None:
    """Before the after-deploy tasks: until the ingress serves each proxied
    service again (see ``dockyard.deploy.serving``)."""
    for service in wait_serving(engine, desired, report):
        report(
            Event(
                "warn",
                service,
                f"the ingress does not answer {service}'s health check yet; "
                "running the after-deploy tasks all the same",
            )
        )


def _note(error: DeployError, reverted: str | None) -> None:
    """Add to ``error`` what the release put back (the release's record keeps it)."""
    if reverted is not None:
        error.message = f"{error.message}\n{reverted}"


def _split(steps: Plan) -> tuple[Plan, Plan]:
    """The plan's network, volume and accessory steps, and its service steps."""
    infra = [s for s in steps.steps if s.target != "service"]
    return (
        steps.model_copy(update={"steps": infra, "tasks": []}),
        steps.model_copy(update={"steps": [s for s in steps.steps if s.target == "service"]}),
    )


def _undo(
    target: Target,
    steps: Plan,
    number: int,
    report: Reporter,
    keeper: LockKeeper,
    secrets: SecretValues,
) -> str | None:
    """Put back what the last succeeded release deployed, for every service and
    accessory this one changed (but those that say ``rollback: manual``): a release
    reverts as a whole. Services it added are removed. Returns what it did, in words,
    or None when there was nothing to do."""
    env, engine, store = target.env, target.engine, target.store
    changed = {s.name for s in steps.changes if s.target in ("service", "accessory")}
    manual = {s.name for s in steps.changes if _rollback_mode(target, s.name) == "manual"}
    changed -= manual
    if not changed:
        return None
    previous = store.last_succeeded(env.name, before=number)
    if previous is None or previous.desired is None:
        report(Event("warn", "", "no earlier release to go back to; what this one started stays"))
        return None
    names = ", ".join(sorted(changed))
    before = _restricted(DesiredState.model_validate(previous.desired), changed)
    report(Event("phase", "", f"reverting the release: {names} back to {previous.label}"))
    try:
        keeper.check()
        now = observe(engine, env.name)
        undo = release_plan(before, now, changed)
        secrets |= secret_values.read_values(env, (), secret_values.used(before))
        number_before = str(previous.number)
        apply(engine, before, now.actual, undo, number_before, report, keeper.check, secrets)
    except DockyardError as e:
        report(Event("warn", "", f"the revert to {previous.label} did not finish: {e}"))
        return f"the revert to {previous.label} did not finish ({e.message})"
    report(Event("warn", "", f"reverted: {names} run {previous.label} again"))
    kept = f" ({', '.join(sorted(manual))} kept: rollback: manual)" if manual else ""
    return f"the release was reverted as a whole: {names} run {previous.label} again{kept}"


def _rollback_mode(target: Target, name: str) -> str:
    svc = next((s for s in target.env.services if s.name == name), None)
    return svc.spec.deploy.rollback if svc is not None else "auto"


def _pull_missing(target: Target, desired: DesiredState, report: Reporter) -> None:
    """Pull, by digest, every image the engine lacks (another host, a pruned cache)."""
    registry = target.env.spec.registry
    auth = auth_config(registry) if registry is not None else None
    for service in desired.services:
        for container in service.task.containers:
            if "@" not in container.image or target.engine.image_present(container.image):
                continue
            report(Event("build", service.name, f"pulling {container.image}"))

            def progress(line: str, subject: str = service.name) -> None:
                report(Event("output", subject, line))

            ensure_image(target.engine, container.image, auth, progress)


def _records(
    env: LoadedEnvironment, desired: DesiredState, shipped: Mapping[str, Shipped]
) -> list[ReleaseService]:
    records = []
    for service in desired.services:
        art = shipped.get(service.name)
        records.append(
            ReleaseService(
                name=service.name,
                image=service.task.main.image,
                digest=art.digest if art else None,
                commit=art.version.commit if art else None,
                dirty=art.version.dirty if art else False,
                params_commit=params_commit(env, service.name),
                spec_hash=service.task.spec_hash(),
            )
        )
    return records


def _rollback_target(store: StateStore, environment: str, to: int | None) -> Release:
    if to is not None:
        return store.get(environment, to)
    current = store.last_succeeded(environment)
    earlier = store.last_succeeded(environment, before=current.number) if current else None
    if earlier is None:
        raise DeployError(
            f"environment {environment} has no earlier succeeded release to roll back to",
            hint=f"see `dockyard history {environment}`; name one with --to N",
        )
    return earlier


def _restricted(desired: DesiredState, names: Collection[str]) -> DesiredState:
    return desired.model_copy(update={"services": [s for s in desired.services if s.name in names]})
