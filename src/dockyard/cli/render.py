"""How results and errors look on a terminal (rich) and as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dockyard.deploy.ops import EnvironmentStatus
from dockyard.errors import DockyardError, Location, SpecErrors
from dockyard.plan.model import Plan, Step

_ACTION_STYLE = {
    "create": ("+", "green"),
    "replace": ("~", "yellow"),
    "scale": ("±", "cyan"),
    "remove": ("-", "red"),
    "noop": ("=", "dim"),
}


def show_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def error(console: Console, err: DockyardError) -> None:
    errors = err.errors if isinstance(err, SpecErrors) else [err]
    for e in errors:
        console.print(f"[bold red]error[{e.code}][/]: {escape(e.message)}")
        if e.location is not None:
            _excerpt(console, e.location)
        if e.hint:
            console.print(f"  [bold cyan]hint[/]: {escape(e.hint)}")
    if len(errors) > 1:
        console.print(f"[red]{len(errors)} errors[/]")


def _excerpt(console: Console, loc: Location) -> None:
    where = f"{show_path(loc.file)}:{loc.line}:{loc.column}"
    console.print(f"  [blue]-->[/] {escape(where)}")
    try:
        lines = loc.file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    if not 1 <= loc.line <= len(lines):
        return
    gutter = str(loc.line)
    pad = " " * len(gutter)
    console.print(f"  [blue]{pad} |[/]")
    console.print(f"  [blue]{gutter} |[/] {escape(lines[loc.line - 1])}")
    console.print(f"  [blue]{pad} |[/] {' ' * (loc.column - 1)}[bold red]^[/]")


def errors_json(err: DockyardError) -> dict[str, Any]:
    errors = err.errors if isinstance(err, SpecErrors) else [err]
    return {"ok": False, "errors": [e.to_dict() for e in errors]}


def plan(console: Console, plan: Plan) -> None:
    if plan.empty:
        console.print(
            f"[green]No changes.[/] Environment [bold]{plan.environment}[/] is up to date."
        )
        return
    console.print(f"Plan for environment [bold]{escape(plan.environment)}[/]:")
    for step in plan.steps:
        if step.action == "noop" and step.target in ("network", "volume"):
            continue
        _step(console, step)
    counts: dict[str, int] = {}
    for s in plan.changes:
        counts[s.action] = counts.get(s.action, 0) + 1
    summary = ", ".join(f"{n} to {a}" for a, n in counts.items())
    console.print(f"\n[bold]{summary}[/].")


def _step(console: Console, step: Step) -> None:
    mark, style = _ACTION_STYLE[step.action]
    text = f"[{style}]{mark} {step.action:<7}[/] {step.target} [bold]{escape(step.name)}[/]"
    if step.replicas is not None and step.action != "remove":
        before, after = step.replicas
        text += f"  replicas {after}" if before == after else f"  replicas {before} → {after}"
    if step.reason:
        text += f"  [dim]({escape(step.reason)})[/]"
    console.print(text)
    for change in step.changes:
        if change.path == "replicas":
            continue
        console.print(
            f"      [dim]{escape(change.path)}:[/] "
            f"[red]{escape(_short(change.old))}[/] → [green]{escape(_short(change.new))}[/]"
        )


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value)
    if text.startswith("sha256:"):
        return text[:19]
    return text if len(text) <= 80 else text[:77] + "..."


def plan_json(plan: Plan) -> dict[str, Any]:
    data = plan.model_dump(mode="json")
    data["empty"] = plan.empty
    return data


def status(console: Console, st: EnvironmentStatus) -> None:
    table = Table(
        title=f"{st.environment} ({st.engine})", title_justify="left", box=box.SIMPLE_HEAD
    )
    for col in ("service", "kind", "ready", "release", "ports"):
        table.add_column(col, overflow="fold")
    for s in st.services:
        style = "green" if s.ok else "red" if s.healthy < s.desired else "yellow"
        releases = sorted({t.release or "-" for t in s.tasks})
        ready = f"[{style}]{s.healthy}/{s.desired}[/]"
        if len(s.tasks) != s.desired:
            ready += f" [dim]({len(s.tasks)} running)[/]"
        table.add_row(s.name, s.kind, ready, ", ".join(releases) or "-", " ".join(s.ports) or "-")
    console.print(table)
    if st.network is None:
        console.print("[dim]Nothing runs in this environment.[/]")


def status_json(st: EnvironmentStatus) -> dict[str, Any]:
    data = asdict(st)
    for service, s in zip(data["services"], st.services, strict=True):
        service["ok"] = s.ok
    return data
