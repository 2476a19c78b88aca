"""Commands over what runs in an environment: plan, status, down, state adopt."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from dockyard.build import cleanup
from dockyard.cli import render
from dockyard.cli.connect import engine_of, existing_store, store_of, writable_store
from dockyard.cli.context import load
from dockyard.cli.progress import Progress
from dockyard.cli.statusview import status_view
from dockyard.deploy import ops
from dockyard.deploy.history import adopt
from dockyard.deploy.ship import selection
from dockyard.discovery.rates import RatesReader
from dockyard.engines.model import RemovedImage
from dockyard.state import HistoryMissing, StateStore, StoreMissing, actor


def cmd_plan(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    engine = engine_of(env)
    try:
        store: StateStore | None = writable_store(env, engine)
    except HistoryMissing as lost:  # plan what runs, without the task runs it forgot
        render.error(err, lost, severity="warning")
        store = None
    with Progress(err) as progress:
        planned = ops.make_plan(engine, env, selection(env, args.services), progress, store=store)
    if args.json:
        render.print_json(render.plan_json(planned.plan))
    else:
        render.plan(out, planned.plan)
    if args.detailed_exitcode and not planned.plan.empty:
        return 2
    return 0


WATCH_INTERVAL = 1.0
"""Seconds between two redraws of ``status --watch``."""


def cmd_status(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    engine = engine_of(env)
    if args.watch:
        rates = RatesReader(engine, env.name)  # each redraw reads only what is new
        return _watch(out, lambda: ops.status(engine, env, rates))
    st = ops.status(engine, env)
    if args.json:
        render.print_json(render.status_json(st))
    else:
        out.print(status_view(st))
    return 0


def _watch(out: Console, take: Callable[[], ops.EnvironmentStatus]) -> int:
    """Redraw the status every WATCH_INTERVAL seconds until Ctrl-C."""
    with Live(status_view(take()), console=out, auto_refresh=False) as live:
        try:
            while True:
                time.sleep(WATCH_INTERVAL)
                live.update(status_view(take()), refresh=True)
        except KeyboardInterrupt:
            return 0


def cmd_down(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    engine = engine_of(env)
    try:
        store: StateStore | None = existing_store(env)
    except StoreMissing:  # no task runs to forget
        store = None
    # The images its containers run are known only while they exist.
    used = cleanup.used_refs(engine.observe(env.name), store) if args.images else set()
    with Progress(err) as progress:
        removed = ops.down(engine, env.name, volumes=args.volumes, report=progress, store=store)
        images = cleanup.remove_images(engine, env, used, progress) if args.images else None
    kept = "" if args.volumes else " (volumes kept; --volumes removes them)"
    out.print(
        f"Removed {len(removed.tasks)} tasks, "
        f"{'the network' if removed.network else 'no network'} and "
        f"{len(removed.volumes)} volumes of [bold]{escape(env.name)}[/]{kept}."
    )
    if images is not None:
        _removed_images(out, env.name, images)
    return 0


def cmd_state(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    engine = engine_of(env)
    with store_of(env) as store:  # adopting creates the store on purpose
        adopted = adopt(engine, store, env.name, actor())
        render.adopted(out, adopted, store.location)
    return 0


def _removed_images(out: Console, environment: str, images: list[RemovedImage]) -> None:
    """One line per image: what was removed, and what was left and why."""
    gone = [i for i in images if i.deleted]
    out.print(f"Removed {len(gone)} images of [bold]{environment}[/].")
    for image in images:
        names = escape(", ".join(image.names) or image.image_id[:19])
        note = escape(image.note or "")
        if image.deleted:
            out.print(f"  removed {names}")
        elif image.names:
            out.print(f"  untagged {names} ({note})")
        else:
            kept = escape(", ".join(image.kept) or image.image_id[:19])
            out.print(f"  kept {kept}: {note}")
