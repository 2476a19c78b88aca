"""Commands of the build → ship → run pipeline and its history."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from rich.console import Console
from rich.markup import escape

from dockyard.build.images import build_environment
from dockyard.cli import render
from dockyard.cli.connect import engine_of, existing_store, writable_store
from dockyard.cli.context import load
from dockyard.cli.progress import Progress
from dockyard.deploy.release import Outcome, PlanHook, promote, release, rollback
from dockyard.deploy.run import run_task
from dockyard.deploy.ship import selection, ship
from dockyard.deploy.target import Target
from dockyard.errors import DockyardError
from dockyard.events import Event
from dockyard.plan.model import Plan
from dockyard.state import StoreMissing


def _target(args: argparse.Namespace, name: str | None = None) -> Target:
    env = load(args, name)
    engine = engine_of(env)
    return Target(env, engine, writable_store(env, engine))


def cmd_build(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    engine = engine_of(env)
    only = selection(env, args.services)
    with Progress(err, verbose=args.verbose) as progress:
        built = build_environment(engine, env, only, force=args.force, report=progress)
    for image in built:
        dirty = " [yellow](dirty)[/]" if image.version.dirty else ""
        line = f"{image.service:<12} {image.ref}  {image.image_id[:19]}"
        out.print(f"{escape(line)}{dirty}")
    return 0


def cmd_push(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    if env.spec.registry is None:
        raise DockyardError(
            f"environment {env.name} has no registry to push to",
            hint=f"add `registry: {{url: ...}}` to environments/{env.name}.yaml; without one, "
            "releases use the engine's own image store",
        )
    engine = engine_of(env)
    with Progress(err, verbose=args.verbose) as progress:
        shipped = ship(
            engine, env, selection(env, args.services), force=args.force, report=progress
        )
    for s in shipped.values():
        out.print(escape(f"{s.service:<12} {s.image}"))
    return 0


def _outcome(out: Console, outcome: Outcome, verb: str) -> None:
    if outcome.release is None:
        out.print(
            f"[green]No changes.[/] Environment [bold]{escape(outcome.environment)}[/] is up to "
            f"date ({outcome.seconds:.1f}s)."
        )
        return
    rel = outcome.release
    out.print(
        f"[green]{verb}[/] [bold]{escape(rel.label)}[/] in {outcome.seconds:.1f}s: "
        f"{len(outcome.result.started)} started, {len(outcome.result.removed)} removed."
    )


def _show_plan(out: Console, progress: Progress) -> PlanHook:
    def show(plan: Plan) -> None:
        if not plan.empty:
            with progress.paused():
                render.plan(out, plan)

    return show


def cmd_release(args: argparse.Namespace, out: Console, err: Console) -> int:
    target = _target(args)
    with Progress(err, verbose=args.verbose) as progress:
        outcome = release(
            target,
            selection(target.env, args.services),
            force=args.force,
            wait=args.wait,
            rerun_tasks=args.rerun_tasks,
            report=progress,
            on_plan=_show_plan(out, progress),
        )
    _outcome(out, outcome, "Released")
    return 0


def cmd_rollback(args: argparse.Namespace, out: Console, err: Console) -> int:
    target = _target(args)
    with Progress(err) as progress:
        outcome = rollback(
            target,
            selection(target.env, args.services),
            to=args.to,
            wait=args.wait,
            report=progress,
            on_plan=_show_plan(out, progress),
        )
    _outcome(out, outcome, "Rolled back with")
    return 0


def cmd_promote(args: argparse.Namespace, out: Console, err: Console) -> int:
    dest = _target(args)
    source = _target(args, args.source)
    with Progress(err) as progress:
        outcome = promote(
            source,
            dest,
            selection(dest.env, args.services),
            wait=args.wait,
            rerun_tasks=args.rerun_tasks,
            report=progress,
            on_plan=_show_plan(out, progress),
        )
    _outcome(out, outcome, "Promoted")
    return 0


def cmd_history(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    try:
        store = existing_store(env)
    except StoreMissing as missing:
        if args.json:
            render.print_json([])
        else:
            render.store_missing(out, env.name, missing)
        return 0
    releases = store.history(env.name, args.limit)
    runs = {r.number: store.task_runs(env.name, r.number) for r in releases} if args.tasks else {}
    if args.json:
        render.print_json(
            [{**asdict(r), "tasks": [asdict(t) for t in runs.get(r.number, [])]} for r in releases]
        )
    else:
        render.history(out, env.name, releases)
        if args.tasks:
            render.task_runs(out, [t for r in releases for t in runs[r.number]])
    return 0


def cmd_lock(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    try:
        store = existing_store(env)
    except StoreMissing as missing:
        if args.lock_command == "status" and args.json:
            render.print_json(None)
        else:
            render.store_missing(out, env.name, missing)
        return 0
    if args.lock_command == "release":
        info = store.force_release(env.name)
        if info is None:
            out.print(f"Nobody holds the deploy lock of [bold]{escape(env.name)}[/].")
        else:
            holder = info.holder.describe()
            out.print(
                f"Released the deploy lock of [bold]{escape(env.name)}[/] held by {escape(holder)}."
            )
        return 0
    info = store.lock_status(env.name)
    if args.json:
        render.print_json(asdict(info) if info else None)
    else:
        render.lock(out, env.name, info)
    return 0


def cmd_run(args: argparse.Namespace, out: Console, err: Console) -> int:
    target = _target(args)
    with Progress(err) as progress:

        def report(event: Event) -> None:
            if event.kind == "task":  # the task's own output, as it comes, on stdout
                with progress.paused():
                    out.out(event.message, highlight=False)
            else:
                progress(event)

        result = run_task(
            target,
            args.service,
            args.task,
            args.argv,
            timeout=args.timeout,
            wait=args.wait,
            report=report,
        )
    if result.timed_out:
        err.print(f"[red]killed after its timeout[/] ({result.seconds:.1f}s)")
    return result.exit_code
