"""``dockyard catalog ENV``: the healthy endpoints of every service, and their routes."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dockyard.cli import render
from dockyard.cli.connect import engine_of
from dockyard.cli.context import load
from dockyard.discovery.catalog import Catalog, catalog


def cmd_catalog(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    found = catalog(engine_of(env), env)
    if args.json:
        render.print_json(catalog_json(found))
    else:
        show(out, found)
    return 0


def catalog_json(found: Catalog) -> dict[str, Any]:
    return {
        "environment": found.environment,
        "network": found.network,
        "services": [
            {
                "name": s.name,
                "kind": s.kind,
                "ports": list(s.ports),
                "endpoints": [dataclasses.asdict(e) for e in s.endpoints],
                "routes": [dataclasses.asdict(r) for r in s.routes],
            }
            for s in found.services
        ],
    }


def show(out: Console, found: Catalog) -> None:
    table = Table(
        title=Text(f"{found.environment}: healthy endpoints on {found.network}"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("service", "replica", "address", "port", "routes"):
        table.add_column(column)
    for s in found.services:
        if not s.endpoints:
            routes = "\n".join(r.url for r in s.routes)
            none = "[red]none healthy[/]" if s.ports else "[dim]no ports[/]"
            table.add_row(escape(s.name), none, "", "", escape(routes))
        for e in s.endpoints:
            routes = "\n".join(r.url for r in s.routes_to(e.port))
            table.add_row(
                escape(s.name),
                str(e.replica),
                e.address or "-",
                f"{e.port_name} {e.port}",
                escape(routes),
            )
    out.print(table)
