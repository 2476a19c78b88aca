"""The ``dockyard`` command line: parses, calls the library, renders results.

Exit codes: 0 success; 1 an error (input, engine, deploy); 2 with
``plan --detailed-exitcode`` when there are changes, and for usage errors.

Parsing, ``--help`` and ``--version`` load no driver (docker, SQLAlchemy,
httpx, pydantic, YAML) and not rich: :data:`HANDLERS` names the function of each
command, imported only once the command line is parsed, and each command's
module imports what that command needs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dockyard.cli.parser import COMPLETE, build_parser

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from rich.console import Console

    Command = Callable[[argparse.Namespace, Console, Console], int]

#: The function that runs each command, as ``module:function``.
HANDLERS = {
    "validate": "dockyard.cli.specs:cmd_validate",
    "schema": "dockyard.cli.specs:cmd_schema",
    "plan": "dockyard.cli.environment:cmd_plan",
    "status": "dockyard.cli.environment:cmd_status",
    "logs": "dockyard.cli.logs:cmd_logs",
    "down": "dockyard.cli.environment:cmd_down",
    "catalog": "dockyard.cli.catalog:cmd_catalog",
    "state": "dockyard.cli.environment:cmd_state",
    "build": "dockyard.cli.releases:cmd_build",
    "push": "dockyard.cli.releases:cmd_push",
    "release": "dockyard.cli.releases:cmd_release",
    "deploy": "dockyard.cli.releases:cmd_release",
    "rollback": "dockyard.cli.releases:cmd_rollback",
    "promote": "dockyard.cli.releases:cmd_promote",
    "run": "dockyard.cli.releases:cmd_run",
    "exec": "dockyard.cli.attach:cmd_exec",
    "history": "dockyard.cli.releases:cmd_history",
    "lock": "dockyard.cli.releases:cmd_lock",
    "secrets": "dockyard.cli.secrets:cmd_secrets",
    "completion": "dockyard.cli.shells:cmd_completion",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == [COMPLETE]:  # a TAB in a shell that loaded `dockyard completion`
        from dockyard.cli.complete import complete

        return complete(parser, words[1:])
    command: list[str] = []
    if "--" in words:  # `run|exec ENV SERVICE -- CMD…`: everything after -- is the command
        at = words.index("--")
        words, command = words[:at], words[at + 1 :]
    args = parser.parse_args(words)
    args.argv = command
    if command and args.command not in ("run", "exec"):
        parser.error("only `run` and `exec` take a command after --")

    from rich.markup import escape  # rich, only now that the command line is parsed

    from dockyard.cli import render
    from dockyard.errors import DockyardError

    out = render.console()
    err = render.console(stderr=True)
    as_json = bool(getattr(args, "json", False))
    try:
        return handler(args.command)(args, out, err)
    except DockyardError as e:
        if args.debug:
            err.print_exception(show_locals=False)
        if as_json:
            render.print_json(render.errors_json(e))
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


def handler(command: str) -> Command:
    """The function that runs ``command``, imported now with what it needs."""
    module, _, name = HANDLERS[command].partition(":")
    function: Command = getattr(importlib.import_module(module), name)
    return function


if __name__ == "__main__":
    raise SystemExit(main())
