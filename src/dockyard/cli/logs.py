"""``dockyard logs``: every container's output, merged in time order.

Lines are written straight to standard output (a rich console per line would
cost more than reading them), each behind its source's prefix, padded so that
the messages line up; ``--json`` writes one object per line instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO

from rich.console import Console
from rich.markup import escape

from dockyard.cli.connect import engine_of
from dockyard.cli.context import load
from dockyard.engines.access import ContainerLogs
from dockyard.engines.capabilities import unsupported
from dockyard.engines.model import LogSource
from dockyard.logs import Entry, LogQuery, follow_logs, read_logs
from dockyard.logs.drivers import unread_drivers
from dockyard.logs.sources import prefix
from dockyard.logs.stream import sources_of
from dockyard.logs.times import LogsError, format_time, parse_time
from dockyard.spec.loaded import LoadedEnvironment

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def cmd_logs(args: argparse.Namespace, out: Console, err: Console) -> int:
    env = load(args)
    query = query_of(args, time.time_ns())
    engine = engine_of(env)
    if not isinstance(engine, ContainerLogs):
        raise unsupported(engine, "logs", "read the logs with the engine's own tools")
    known = known_services(env, engine)
    sources = sources_of(engine, env.name, query, known)
    for note in unread_drivers(engine, sources):
        err.print(f"[yellow]note[/]: {escape(note)}")
    if args.follow:
        entries: Iterable[Entry] = follow_logs(engine, env.name, query, known)
    else:
        entries = read_logs(engine, sources, query)
    width = max((len(prefix(s)) for s in sources), default=0)
    try:
        write(entries, sys.stdout, as_json=args.json, width=width, flush=args.follow)
    except BrokenPipeError:  # `dockyard logs ... | head`
        sys.stderr.close()
    return 0


def query_of(args: argparse.Namespace, now: int) -> LogQuery:
    if args.follow and args.until:
        raise LogsError(
            "--until and -f do not go together: following never reaches a time",
            hint="drop -f to read up to --until, or --until to keep following",
        )
    since = parse_time(args.since, now, "--since") if args.since else None
    until = parse_time(args.until, now, "--until") if args.until else None
    if since is not None and until is not None and until < since:
        raise LogsError(
            f"--until {args.until} is before --since {args.since}",
            hint="--since is where the lines start, --until where they end",
        )
    return LogQuery(tuple(args.services), since, until, args.tail, args.grep)


def known_services(env: LoadedEnvironment, engine: ContainerLogs) -> list[str]:
    """What SERVICE may name: the environment's services and accessories, its
    ingress, and whatever else of it runs (a service since removed from it)."""
    names = [*env.spec.accessories, *(s.name for s in env.services)]
    if env.spec.ingress.enabled:
        names.append("ingress")
    names += sorted({s.service for s in engine.log_sources(env.name)} - set(names))
    return names


def write(
    entries: Iterable[Entry], stream: IO[str], *, as_json: bool, width: int, flush: bool
) -> int:
    """Write every entry; returns how many were written."""
    count = 0
    for text in json_lines(entries) if as_json else text_lines(entries, width):
        stream.write(text)
        count += 1
        if flush:
            stream.flush()
    stream.flush()
    return count


def text_lines(entries: Iterable[Entry], width: int) -> Iterator[str]:
    """``api.1    | message``: the prefix padded to the widest one seen so far."""
    for entry in entries:
        if len(entry.prefix) > width:
            width = len(entry.prefix)
        text = entry.line.text
        if _CONTROL.search(text):
            text = _CONTROL.sub("\ufffd", text)
        yield f"{entry.prefix:<{width}} | {text}\n"


def json_lines(entries: Iterable[Entry]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(as_dict(entry), ensure_ascii=False) + "\n"


def as_dict(entry: Entry) -> dict[str, object]:
    source: LogSource = entry.source
    return {
        "time": format_time(entry.line.time),
        "source": entry.prefix,
        "service": source.service,
        "replica": source.replica,
        "container": source.container,
        "name": source.name,
        "stream": entry.line.stream,
        "message": entry.line.text,
    }
