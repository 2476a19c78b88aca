"""User text reaches the terminal as written: never read as rich markup or emoji codes."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from dockyard.cli import render
from dockyard.cli.progress import Progress
from dockyard.errors import Location, SpecError, SpecErrors
from dockyard.events import Event
from dockyard.plan.model import FieldChange, Plan, Step, TaskStep

HOSTILE = "say :x: [bold]x[/bold] [red] \\[done]"


def shown(draw: Callable[[Console], None]) -> str:
    """What ``draw`` prints on a console set up as the CLI's are."""
    buffer = io.StringIO()
    draw(render.console(file=buffer))
    return buffer.getvalue()


def test_an_error_message_hint_and_source_line_print_literally(tmp_path: Path) -> None:
    spec = tmp_path / "dockyard.yaml"
    spec.write_text(f"service: api\nx: '{HOSTILE}'\n")
    error = SpecError(HOSTILE, hint=HOSTILE, location=Location(spec, 2, 4), code="DY102")
    out = shown(lambda c: render.error(c, SpecErrors([error])))
    assert out.count(HOSTILE) == 3, out  # the message, the line of the file, the hint
    assert "❌" not in out


def test_a_plan_value_prints_literally() -> None:
    step = Step(
        action="replace",
        target="service",
        name="api",
        replicas=(1, 1),
        changes=[FieldChange(path="env.GREETING", old=HOSTILE, new=f"{HOSTILE}!")],
        reason=HOSTILE,
    )
    task = TaskStep(
        service="api",
        task="migrate",
        when="before-deploy",
        command=["echo", HOSTILE],
        image="sha256:abc",
        run=True,
        reason=HOSTILE,
    )
    out = shown(lambda c: render.plan(c, Plan(environment="local", steps=[step], tasks=[task])))
    assert f"{HOSTILE} → {HOSTILE}!" in out, out
    assert f"({HOSTILE})" in out, out
    assert f"echo {HOSTILE}" in out, out
    assert "❌" not in out


def test_a_log_line_and_a_name_print_literally() -> None:
    def draw(console: Console) -> None:
        progress = Progress(console, verbose=True)
        progress(Event("output", "api", HOSTILE))
        progress(Event("start", HOSTILE, HOSTILE))
        progress(Event("phase", "", HOSTILE))

    lines = shown(draw).splitlines()
    assert lines == [f"  api {HOSTILE}", f"  ▲ {HOSTILE} {HOSTILE}", f"==> {HOSTILE}"], lines


def test_control_characters_of_a_file_do_not_reach_the_terminal(tmp_path: Path) -> None:
    spec = tmp_path / "dockyard.yaml"
    spec.write_bytes(b"service: api\x1b[2J\x07\n")
    error = SpecError("bad \x1b]0;title\x07", location=Location(spec, 1, 13), code="DY120")
    out = shown(lambda c: render.error(c, error))
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert "service: api\ufffd[2J\ufffd" in out, out


def test_a_long_line_is_shown_around_the_column(tmp_path: Path) -> None:
    spec = tmp_path / "dockyard.yaml"
    spec.write_text("x: " + "a" * 5000 + "HERE" + "b" * 5000 + "\n")
    error = SpecError("long", location=Location(spec, 1, 5004), code="DY125")
    lines = shown(lambda c: render.error(c, error)).splitlines()
    excerpt, caret = lines[3], lines[4]
    assert len(excerpt) < 200 and excerpt.startswith("  1 | …") and excerpt.endswith("…")
    assert excerpt[caret.index("^") : caret.index("^") + 4] == "HERE", (excerpt, caret)
