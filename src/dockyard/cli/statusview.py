"""How ``dockyard status`` looks on a terminal: the summary table, a table of
every replica's containers, and what is wrong with those that do not run well.
One renderable, so that ``status --watch`` redraws it as a whole."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dockyard.cli.render import _printable
from dockyard.deploy.status import ContainerStatus, EnvironmentStatus, Traffic


def status_view(st: EnvironmentStatus) -> Group:
    """The summary table, a table of every replica's containers, and what is wrong."""
    table = Table(
        title=Text(f"{st.environment} ({st.engine})"), title_justify="left", box=box.SIMPLE_HEAD
    )
    traffic = any(s.traffic is not None for s in st.services)
    columns = ("service", "kind", "ready", "release", "ports") + (("traffic",) if traffic else ())
    for col in columns:
        table.add_column(col, overflow="fold")
    for s in st.services:
        style = "green" if s.ok else "red" if s.healthy < s.desired else "yellow"
        releases = sorted({t.release or "-" for t in s.tasks})
        ready = f"[{style}]{s.healthy}/{s.desired}[/]"
        if len(s.tasks) != s.desired:
            ready += f" [dim]({len(s.tasks)} running)[/]"
        cells: list[RenderableType] = [
            Text(s.name),
            Text(s.kind),
            ready,
            Text(", ".join(releases) or "-"),
            Text(" ".join(s.ports) or "-"),
        ]
        if traffic:
            cells.append(_traffic(s.traffic))
        table.add_row(*cells)
    parts: list[RenderableType] = [table]
    if st.traffic_error:
        parts.append(Text(f"request rates unknown: {st.traffic_error}", style="yellow"))
    if any(s.tasks for s in st.services):
        parts.append(_replicas(st))
    for s in st.services:
        for t in s.tasks:
            if t.ok:
                continue
            restarts = f", restarted {t.restarts} times" if t.restarts else ""
            parts.append(
                Text.assemble(
                    (f"✗ {s.name} replica {t.replica}", "red"),
                    f" ({t.task}): ",
                    (t.problem or "", "red"),
                    restarts,
                )
            )
            for line in (t.last_lines or "").splitlines():
                parts.append(Text(f"    {_printable(line)}", style="dim"))
    if st.network is None:
        parts.append(Text("Nothing runs in this environment.", style="dim"))
    return Group(*parts)


_HEALTH_STYLE = {"healthy": "green", "unhealthy": "red", "starting": "yellow"}


def _replicas(st: EnvironmentStatus) -> Table:
    """One row per container of every replica (a task's keeper left out)."""
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("replica", "container", "state", "restarts", "up", "release", "image"):
        table.add_column(col, overflow="fold")
    for s in st.services:
        for t in s.tasks:
            first = True
            for c in t.containers:
                if c.role == "keeper":
                    continue
                state = Text(c.state, style="green" if c.state == "running" else "red")
                if c.health:
                    state.append(f" ({c.health})", style=_HEALTH_STYLE.get(c.health, ""))
                table.add_row(
                    Text(f"{s.name}/{t.replica}" if first else ""),
                    Text(c.name),
                    state,
                    Text(str(c.restarts) if c.restarts is not None else "-"),
                    Text(_duration(c.uptime)),
                    Text((t.release or "-") if first else ""),
                    Text(_image(c)),
                )
                first = False
    return table


def _traffic(t: Traffic | None) -> Text:
    """``2.4 req/s, 0.0% errors`` over the last minute; ``-`` where not proxied."""
    if t is None:
        return Text("-")
    if not t.requests:
        return Text("idle", style="dim")
    style = "red" if t.error_rate >= 0.05 else "yellow" if t.error_rate > 0 else "green"
    return Text.assemble(f"{t.request_rate:.1f} req/s, ", (f"{t.error_rate:.1%} errors", style))


def _duration(seconds: float | None) -> str:
    """``42s``, ``5m``, ``3h12m``, ``2d4h``."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def _image(c: ContainerStatus) -> str:
    """A container's image as a table shows it: the digest reference its definition
    names, or its registry digest, or its image's name or ID; digests shortened."""
    named = c.image if c.image and "@" in c.image else None
    ref = named or c.digest or c.image or c.image_id
    if not ref:
        return "-"
    name, at, digest = ref.rpartition("@")
    if at:
        return f"{name}@{digest[:19]}"
    return ref[:19] if ref.startswith("sha256:") else ref
