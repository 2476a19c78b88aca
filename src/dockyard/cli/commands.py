"""One function per command; each returns the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from dockyard import spec
from dockyard.cli import render
from dockyard.cli.progress import Progress
from dockyard.deploy import ops
from dockyard.engines import engine_for
from dockyard.engines.base import Engine
from dockyard.plan.model import Plan
from dockyard.spec.loaded import LoadedEnvironment


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    handler = _COMMANDS[args.command]
    return handler(args, out, err)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _load(args: argparse.Namespace) -> LoadedEnvironment:
    start = args.directory if args.directory is not None else Path.cwd()
    repo = spec.find_repo(Path(start).resolve())
    return spec.load_environment(repo, args.environment)


def _engine(env: LoadedEnvironment) -> Engine:
    engine = engine_for(env.spec.engine)
    engine.ping()
    return engine


def cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = _load(args)
    accessories = sorted(env.spec.accessories)
    services = [s.name for s in env.services]
    if args.json:
        _print_json(
            {
                "ok": True,
                "environment": env.name,
                "file": str(env.path),
                "accessories": accessories,
                "services": services,
            }
        )
    else:
        out.print(
            f"[green]✓[/] environment [bold]{env.name}[/] is valid: "
            f"{len(services)} services ({', '.join(services) or 'none'}), "
            f"{len(accessories)} accessories ({', '.join(accessories) or 'none'})"
        )
    return 0


def cmd_schema(args: argparse.Namespace, out: Console, err: Console) -> int:
    _print_json(spec.json_schema(None if args.kind == "all" else args.kind))
    return 0


def cmd_plan(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = _load(args)
    engine = _engine(env)
    with Progress(err) as progress:
        planned = ops.make_plan(engine, env, progress)
    if args.json:
        _print_json(render.plan_json(planned.plan))
    else:
        render.plan(out, planned.plan)
    if args.detailed_exitcode and not planned.plan.empty:
        return 2
    return 0


def cmd_deploy(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = _load(args)
    engine = _engine(env)
    with Progress(err, verbose=args.verbose) as progress:

        def show(plan: Plan) -> None:
            if not plan.empty:
                with progress.paused():
                    render.plan(out, plan)

        deployed = ops.deploy(engine, env, progress, on_plan=show)
    if deployed.plan.empty:
        out.print(
            f"[green]No changes.[/] Environment [bold]{env.name}[/] is up to date "
            f"({deployed.seconds:.1f}s)."
        )
    else:
        out.print(
            f"[green]Deployed[/] release [bold]{deployed.release}[/] to [bold]{env.name}[/] "
            f"in {deployed.seconds:.1f}s: {len(deployed.result.started)} started, "
            f"{len(deployed.result.removed)} removed."
        )
    return 0


def cmd_status(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = _load(args)
    engine = _engine(env)
    st = ops.status(engine, env)
    if args.json:
        _print_json(render.status_json(st))
    else:
        render.status(out, st)
    return 0


def cmd_down(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = _load(args)
    engine = _engine(env)
    with Progress(err) as progress:
        removed = ops.down(engine, env.name, volumes=args.volumes, report=progress)
    kept = "" if args.volumes else " (volumes kept; --volumes removes them)"
    out.print(
        f"Removed {len(removed.tasks)} tasks, "
        f"{'the network' if removed.network else 'no network'} and "
        f"{len(removed.volumes)} volumes of [bold]{env.name}[/]{kept}."
    )
    return 0


_COMMANDS = {
    "validate": cmd_validate,
    "schema": cmd_schema,
    "plan": cmd_plan,
    "deploy": cmd_deploy,
    "status": cmd_status,
    "down": cmd_down,
}
