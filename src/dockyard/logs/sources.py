"""Which containers ``dockyard logs`` reads, and the prefix each line carries.

A prefix names the source the way the spec does: ``api.1`` (replica 1 of api's
main container), ``api.1/stats`` (its sidecar), ``db`` (an accessory),
``ingress`` (the environment's ingress), ``api/migrate`` (a one-off task).
Two containers may share a prefix for a moment: the old and the new replica 1
of a rollout; ``--json`` names the container too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from dockyard.engines.model import LogSource
from dockyard.logs.times import LogsError


def prefix(source: LogSource) -> str:
    """The short name of ``source`` in front of its lines."""
    if source.kind == "task":
        return f"{source.service}/{source.container}"
    base = source.service if source.kind == "accessory" else f"{source.service}.{source.replica}"
    return f"{base}/{source.container}" if source.role == "sidecar" else base


def select(
    sources: Iterable[LogSource], services: Sequence[str] | None, known: Sequence[str]
) -> list[LogSource]:
    """The sources of ``services`` (every one when None or empty). A name the
    environment does not know is an error that suggests the closest one."""
    if not services:
        return list(sources)
    check(services, known)
    wanted = set(services)
    return [s for s in sources if s.service in wanted]


def check(services: Sequence[str], known: Sequence[str]) -> None:
    """Raise for the first of ``services`` that is not in ``known``."""
    unknown = [n for n in services if n not in known]
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise LogsError(
        f"the environment has no service or accessory named {', '.join(unknown)}",
        hint=f"{hint}it has: {', '.join(known)}",
    )
