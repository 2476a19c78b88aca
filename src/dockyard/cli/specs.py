"""Commands that read spec files only: they touch no engine and no state store."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from dockyard import spec
from dockyard.cli.context import load
from dockyard.cli.render import print_json


def cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    accessories = sorted(env.spec.accessories)
    services = [s.name for s in env.services]
    if args.json:
        print_json(
            {
                "ok": True,
                "environment": env.name,
                "file": str(env.path),
                "accessories": accessories,
                "services": services,
            }
        )
    else:
        out.print(
            f"[green]✓[/] environment [bold]{escape(env.name)}[/] is valid: "
            f"{len(services)} services ({escape(', '.join(services) or 'none')}), "
            f"{len(accessories)} accessories ({escape(', '.join(accessories) or 'none')})"
        )
    return 0


def cmd_schema(args: argparse.Namespace, out: Console, err: Console) -> int:
    print_json(spec.json_schema(None if args.kind == "all" else args.kind))
    return 0
