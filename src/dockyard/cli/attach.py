"""``dockyard exec``: a shell, or a command, in a running replica.

With a terminal on standard input the command gets one (raw mode here, the
size followed); otherwise standard input is forwarded until its end, so
``echo x | dockyard exec local api -- cat`` works. The command's exit code is
``dockyard``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

from rich.console import Console

from dockyard.cli.connect import engine_of
from dockyard.cli.context import load
from dockyard.deploy.attach import target
from dockyard.engines.access import Attaching, Terminal
from dockyard.engines.capabilities import unsupported

SHELL = ["/bin/sh"]
"""What runs when no command follows ``--``."""


def cmd_exec(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    engine = engine_of(env)
    if not isinstance(engine, Attaching):
        raise unsupported(engine, "attached commands", hint="run it through the engine's own tools")
    task, container = target(engine, env, args.service, args.replica, args.container)
    tty = sys.stdin is not None and sys.stdin.isatty()
    io = Terminal(
        stdin=sys.stdin.buffer if sys.stdin is not None else None,
        stdout=sys.stdout.buffer,
        stderr=sys.stderr.buffer,
        tty=tty,
        size=_size if tty else None,
    )
    if tty:
        err.print(f"[dim]{args.service} replica {task.replica}, container {container.container}[/]")
    with _raw(tty):
        code = engine.attach(container.id, list(args.argv or SHELL), io)
    return code if code >= 0 else 1


def _size() -> tuple[int, int]:
    size = os.get_terminal_size(sys.stdout.fileno() if sys.stdout.isatty() else 0)
    return size.lines, size.columns


@contextlib.contextmanager
def _raw(tty: bool) -> Iterator[None]:
    """The terminal in raw mode while the command runs, as it was afterwards."""
    if not tty:
        yield
        return
    import termios
    import tty as terminal

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        terminal.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
