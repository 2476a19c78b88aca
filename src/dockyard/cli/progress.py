"""Live progress for builds and rollouts, on standard error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from dockyard.deploy.events import Event

_MARKS = {
    "start": "[cyan]▲[/]",
    "ready": "[green]✓[/]",
    "route": "[magenta]⇄[/]",
    "stop": "[yellow]▼[/]",
    "build": "[blue]■[/]",
}


class Progress:
    """A spinner with the latest line of work, and one line per milestone.

    Build output and health polling update the spinner only; phases, builds,
    starts, readiness and removals are printed so the log of a deploy remains.
    With ``verbose`` every build line is printed too.
    """

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self._status: Status | None = None

    def __enter__(self) -> Progress:
        self._status = self.console.status("starting", spinner="dots")
        self._status.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.__exit__(exc_type, exc, tb)
            self._status = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the spinner while something else is printed."""
        if self._status is not None:
            self._status.stop()
        try:
            yield
        finally:
            if self._status is not None:
                self._status.start()

    def __call__(self, event: Event) -> None:
        shown = event.subject and event.kind != "phase"
        subject = f"[bold]{escape(event.subject)}[/] " if shown else ""
        line = f"{subject}{escape(event.message)}"
        if event.kind in ("output", "info"):
            if self.verbose:
                self.console.print(f"  [dim]{line}[/]")
            if self._status is not None:
                self._status.update(line[:120])
            return
        if event.kind == "phase":
            self.console.print(f"[bold]==>[/] {line}")
        else:
            self.console.print(f"  {_MARKS.get(event.kind, '·')} {line}")
        if self._status is not None:
            self._status.update(line[:120])
