"""The ``dockyard`` command line: parses, calls the library, renders results.

Exit codes: 0 success; 1 an error (input, engine, deploy); 2 with
``plan --detailed-exitcode`` when there are changes, and for usage errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.markup import escape

from dockyard.cli import commands, render
from dockyard.cli.parser import build_parser
from dockyard.errors import DockyardError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in words:  # `run ENV SERVICE -- CMD…`: everything after -- is the command
        at = words.index("--")
        words, command = words[:at], words[at + 1 :]
    args = parser.parse_args(words)
    args.argv = command
    if command and args.command != "run":
        parser.error("only `run` takes a command after --")
    out = render.console()
    err = render.console(stderr=True)
    as_json = bool(getattr(args, "json", False))
    try:
        return commands.run(args, out, err)
    except DockyardError as e:
        if args.debug:
            err.print_exception(show_locals=False)
        if as_json:
            _print_json(render.errors_json(e))
        else:
            render.error(err, e)
        return e.exit_code
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        return 130
    except Exception as e:
        if args.debug:
            raise
        err.print(f"[bold red]internal error[/]: {type(e).__name__}: {escape(str(e))}")
        err.print("  [bold cyan]hint[/]: run again with --debug for the traceback and report it")
        return 1


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
