"""The ``dockyard`` command line: parses, calls the library, renders results.

Exit codes: 0 success; 1 an error (input, engine, deploy); 2 with
``plan --detailed-exitcode`` when there are changes, and for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from dockyard import __version__
from dockyard.cli import commands, render
from dockyard.errors import DockyardError

DESCRIPTION = """\
Deploy services from their specs: one dockyard.yaml per service repo, one
environments/<env>.yaml per environment in the environment repo.

Run inside an environment repo (a folder with environments/), or anywhere
with -C DIR. Every command that reads specs validates them first and never
touches an engine when they are invalid.
"""

EPILOG = """\
examples:
  dockyard validate local          check every spec of environment 'local'
  dockyard plan local              show what a deploy would change
  dockyard deploy local            build, then converge 'local' to its specs
  dockyard status local --json     what runs, as JSON
  dockyard down local --volumes    remove everything, data volumes too
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockyard",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dockyard {__version__}")
    parser.add_argument(
        "-C",
        dest="directory",
        metavar="DIR",
        type=Path,
        default=None,
        help="run as if started in DIR (like git -C)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks and engine output"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, env: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if env:
            p.add_argument(
                "environment", metavar="ENV", help="environment name (environments/ENV.yaml)"
            )
        return p

    p = command("validate", "Check the environment's specs without touching an engine.")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = command("schema", "Print the JSON Schema of the spec files, for editors.", env=False)
    p.add_argument(
        "kind",
        nargs="?",
        choices=["all", "service", "environment", "params"],
        default="all",
        help="which file's schema (default: both)",
    )

    p = command("plan", "Show what a deploy would change, field by field (builds images).")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing would change, 2 when something would, 1 on error",
    )

    p = command("deploy", "Build the images and converge the environment to its specs.")
    p.add_argument("-v", "--verbose", action="store_true", help="print build output")

    p = command("status", "Show what runs in the environment.")
    p.add_argument("--json", action="store_true", help="print the status as JSON")

    p = command("down", "Remove the environment's containers and network.")
    p.add_argument("--volumes", action="store_true", help="remove its named volumes (data) too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
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
        err.print(f"[bold red]internal error[/]: {type(e).__name__}: {e}")
        err.print("  [bold cyan]hint[/]: run again with --debug for the traceback and report it")
        return 1


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
