"""How results and errors look on a terminal (rich) and as JSON.

Text that comes from users (names, commands, messages, log lines, plan values)
never reaches rich as markup: it is escaped with :func:`rich.markup.escape` or
passed as :class:`~rich.text.Text`, and the consoles do not read emoji codes
(:func:`console`), so ``[red]`` and ``:x:`` print as they are written.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dockyard.errors import DockyardError, Location, SpecErrors
from dockyard.spec.limits import MAX_FILE_BYTES

if TYPE_CHECKING:  # only named in signatures: rendering an error loads no engine or store
    from dockyard.deploy.status import EnvironmentStatus
    from dockyard.plan.model import Plan, Step
    from dockyard.state import LockInfo, Release, ReleaseService, StoreMissing, TaskRun

_ACTION_STYLE = {
    "create": ("+", "green"),
    "replace": ("~", "yellow"),
    "scale": ("±", "cyan"),
    "remove": ("-", "red"),
    "noop": ("=", "dim"),
}


def console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A console for the CLI: no highlighting, no emoji codes, lines not wrapped."""
    return Console(stderr=stderr, file=file, highlight=False, soft_wrap=True, emoji=False)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on standard output, for scripts to read."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def show_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """``text`` with control characters (a terminal's escape sequences among them)
    shown as U+FFFD, one for one so that columns still line up."""
    return _CONTROL.sub("\ufffd", text)


def error(console: Console, err: DockyardError, severity: str = "error") -> None:
    errors = err.errors if isinstance(err, SpecErrors) else [err]
    style = "bold red" if severity == "error" else "bold yellow"
    for e in errors:
        console.print(f"[{style}]{severity}[{e.code}][/]: {escape(_printable(e.message))}")
        if e.location is not None:
            _excerpt(console, e.location)
        if e.hint:
            console.print(f"  [bold cyan]hint[/]: {escape(_printable(e.hint))}")
    if len(errors) > 1:
        console.print(f"[red]{len(errors)} errors[/]")


def _excerpt(console: Console, loc: Location) -> None:
    where = f"{show_path(loc.file)}:{loc.line}:{loc.column}"
    console.print(f"  [blue]-->[/] {escape(_printable(where))}")
    try:
        with loc.file.open("rb") as f:  # a file past the size limit is not read whole
            head = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return
    lines = head.decode("utf-8", errors="replace").splitlines()
    if not 1 <= loc.line <= len(lines):
        return
    text, caret = _window(_printable(lines[loc.line - 1]), loc.column - 1)
    gutter = str(loc.line)
    pad = " " * len(gutter)
    console.print(f"  [blue]{pad} |[/]")
    console.print(f"  [blue]{gutter} |[/] {escape(text)}")
    console.print(f"  [blue]{pad} |[/] {' ' * caret}[bold red]^[/]")


_EXCERPT_WIDTH = 120


def _window(line: str, column: int) -> tuple[str, int]:
    """At most :data:`_EXCERPT_WIDTH` characters of ``line`` around ``column``
    (0-based), cut ends marked with ``…``; and the column within them."""
    if len(line) <= _EXCERPT_WIDTH:
        return line, column
    start = max(0, min(column - _EXCERPT_WIDTH // 3, len(line) - _EXCERPT_WIDTH))
    end = start + _EXCERPT_WIDTH
    shown = ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
    return shown, column - start + (1 if start else 0)


def errors_json(err: DockyardError) -> dict[str, Any]:
    errors = err.errors if isinstance(err, SpecErrors) else [err]
    return {"ok": False, "errors": [e.to_dict() for e in errors]}


def plan(console: Console, plan: Plan) -> None:
    if plan.empty:
        console.print(
            f"[green]No changes.[/] Environment [bold]{escape(plan.environment)}[/] is up to date."
        )
        return
    console.print(f"Plan for environment [bold]{escape(plan.environment)}[/]:")
    for step in plan.steps:
        if step.action == "noop" and step.target in ("network", "volume"):
            continue
        _step(console, step)
    for task in plan.tasks:
        mark = "[magenta]▶ run    [/]" if task.run else "[dim]- skip   [/]"
        console.print(
            f"{mark} task {escape(task.service)}/{escape(task.task)} [dim]({escape(task.when)}; "
            f"{escape(task.reason)})[/]"
        )
        if task.run:
            console.print(f"      [dim]command:[/] {escape(' '.join(task.command))}")
            console.print(f"      [dim]image:[/] {escape(_short(task.image))}")
    counts: dict[str, int] = {}
    for s in plan.changes:
        counts[s.action] = counts.get(s.action, 0) + 1
    if plan.tasks_to_run:
        counts["run (tasks)"] = len(plan.tasks_to_run)
    summary = ", ".join(f"{n} to {a}" for a, n in counts.items())
    console.print(f"\n[bold]{summary}[/].")


def _step(console: Console, step: Step) -> None:
    mark, style = _ACTION_STYLE[step.action]
    text = f"[{style}]{mark} {step.action:<7}[/] {escape(step.target)} [bold]{escape(step.name)}[/]"
    if step.replicas is not None and step.action != "remove":
        before, after = step.replicas
        text += f"  replicas {after}" if before == after else f"  replicas {before} → {after}"
    if step.reason:
        text += f"  [dim]({escape(step.reason)})[/]"
    console.print(text)
    if step.order == "stop-first" and step.order_reason:
        console.print(f"      [yellow]stop-first:[/] {escape(step.order_reason)}")
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


def status_json(st: EnvironmentStatus) -> dict[str, Any]:
    data = asdict(st)
    for service, s in zip(data["services"], st.services, strict=True):
        service["ok"] = s.ok
    return data


_STATUS_STYLE = {"succeeded": "green", "failed": "red", "running": "yellow", "interrupted": "red"}


def history(console: Console, environment: str, releases: list[Release]) -> None:
    if not releases:
        console.print(f"[dim]No releases of {escape(environment)} yet.[/]")
        return
    table = Table(
        title=Text(f"releases of {environment}"), title_justify="left", box=box.SIMPLE_HEAD
    )
    for col in ("#", "kind", "status", "when (UTC)", "took", "by", "services"):
        table.add_column(col, overflow="fold")
    for r in releases:
        style = _STATUS_STYLE.get(r.status, "")
        kind = r.kind + (f" {r.source}" if r.source else "")
        services = "\n".join(f"{s.name}@{_version(s)}" for s in r.services) or "-"
        table.add_row(
            str(r.number),
            Text(kind),
            Text(r.status, style=style),
            r.started_at.strftime("%m-%d %H:%M:%S"),
            f"{r.duration:.1f}s" if r.duration is not None else "-",
            Text(r.actor),
            Text(services),
        )
    console.print(table)
    failed = next((r for r in releases if r.status == "failed" and r.error), None)
    if failed is not None and failed.error:
        first = failed.error.splitlines()[0]
        console.print(f"[dim]#{failed.number} failed: {escape(first)}[/]")


def _version(service: ReleaseService) -> str:
    if service.commit:
        return service.commit[:12] + ("-dirty" if service.dirty else "")
    ref = service.digest or service.image
    return ref.removeprefix("sha256:")[:12]


def task_runs(console: Console, runs: list[TaskRun]) -> None:
    if not runs:
        console.print("[dim]No task runs.[/]")
        return
    table = Table(title="task runs", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("release", "task", "status", "exit", "took", "image", "last output"):
        table.add_column(col, overflow="fold")
    for t in runs:
        style = "green" if t.status == "succeeded" else "red"
        last = t.log_tail.rstrip("\n").splitlines()[-1:] or ["-"]
        table.add_row(
            f"#{t.release}" if t.release else "-",
            Text(f"{t.service}/{t.task}"),
            Text(t.status, style=style),
            str(t.exit_code),
            f"{t.duration:.1f}s",
            Text(_short(t.digest)),
            Text(last[0][:80]),
        )
    console.print(table)


def lock(console: Console, environment: str, info: LockInfo | None) -> None:
    if info is None:
        console.print(f"Nobody holds the deploy lock of [bold]{escape(environment)}[/].")
        return
    env = escape(environment)
    if info.expired:
        state = (
            f"[red]expired {-info.expires_in:.0f}s ago[/] (its holder is gone; the next deploy "
            f"takes it over, or `dockyard lock release {env}`)"
        )
    elif info.liveness.dead:
        state = (
            f"[red]held by a dead process[/], lease ends in {info.expires_in:.0f}s (the next "
            f"deploy on this host takes it over at once, or `dockyard lock release {env}`)"
        )
    else:
        state = f"[green]held[/], lease ends in {info.expires_in:.0f}s"
    style = {True: "green", False: "red", None: "dim"}[info.liveness.alive]
    console.print(f"Deploy lock of [bold]{escape(environment)}[/]: {state}")
    console.print(f"  holder:  {escape(info.holder.describe())}")
    console.print(f"  process: [{style}]{escape(info.liveness.describe())}[/]")
    console.print(f"  since:   {info.started_at:%Y-%m-%d %H:%M:%S} UTC")


def store_missing(console: Console, environment: str, missing: StoreMissing) -> None:
    """What a command that only reads says when there is no store (none is made)."""
    console.print(
        f"[yellow]No state store[/] at {escape(missing.store)} ({escape(missing.reason)}): "
        f"nothing is recorded about [bold]{escape(environment)}[/]. The first release "
        "creates it; if it was lost, restore it from a backup, or start a new history "
        f"from what runs with `dockyard state adopt {escape(environment)}`."
    )


def adopted(console: Console, release: Release, location: str) -> None:
    names = ", ".join(s.name for s in release.services) or "none"
    console.print(
        f"[green]Adopted[/] what runs in [bold]{escape(release.env)}[/] as release "
        f"[bold]{escape(release.label)}[/] ({escape(names)}) in {escape(location)}; "
        f"the next release is #{release.number + 1}."
    )
    console.print(
        "  The history before it is not known, and task runs start empty: the next release "
        "that changes a service runs its before-deploy tasks (migrations) again, so they "
        "must be idempotent. It recorded no desired state, so `rollback` cannot return to it."
    )
