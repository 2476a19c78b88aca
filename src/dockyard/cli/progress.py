"""Live progress for builds and rollouts, on standard error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.status import Status
from rich.text import Text

from dockyard.events import Event

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
    starts, readiness, removals and what one-off tasks (migrations) write are
    printed so the log of a deploy remains. With ``verbose`` every build and push
    line is printed too.
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
        # The subject and message are the user's text (names, build output, log
        # lines): they go to rich as Text, never read as markup or emoji codes.
        shown = event.subject and event.kind != "phase"
        line = Text()
        if shown:
            line.append(event.subject, style="bold").append(" ")
        line.append(event.message)
        if event.kind in ("output", "info"):
            if self.verbose:
                self.console.print(Text("  ").append_text(_dim(line)))
            self._show(line)
            return
        if event.kind == "task":  # a migration's own output, always shown
            self.console.print(Text("  │ ", style="dim").append_text(line), highlight=False)
            self._show(line)
            return
        if event.kind == "phase":
            self.console.print(Text.from_markup("[bold]==>[/] ").append_text(line))
        else:
            mark = Text.from_markup(f"  {_MARKS.get(event.kind, '·')} ")
            self.console.print(mark.append_text(line))
        self._show(line)

    def _show(self, line: Text) -> None:
        if self._status is not None:
            self._status.update(line[:120])


def _dim(line: Text) -> Text:
    dimmed = line.copy()
    dimmed.stylize("dim")
    return dimmed
