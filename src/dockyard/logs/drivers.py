"""Log drivers: what ``dockyard logs`` can read back of each, and (below) the
engine configuration an environment's ``logging:`` setting makes."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.engines.access import ContainerLogs
from dockyard.engines.model import LogSource
from dockyard.logs.sources import prefix

OWN_DRIVERS = frozenset({"json-file", "local", "journald"})
"""Drivers whose lines the engine reads back from where they keep them."""


def unread_drivers(engine: ContainerLogs, sources: Sequence[LogSource]) -> list[str]:
    """A note for each log driver of ``sources`` that is not the engine's own:
    whether their lines can be read here at all, and from what."""
    by_driver: dict[tuple[str, bool], list[str]] = {}
    for source in sources:
        info = engine.log_driver(source)
        if info.driver in OWN_DRIVERS:
            continue
        by_driver.setdefault((info.driver, info.readable), []).append(prefix(source))
    notes = []
    for (driver, readable), names in sorted(by_driver.items()):
        who = ", ".join(sorted(set(names)))
        if readable:
            notes.append(
                f"{who}: the {driver} driver sends these lines away; what is shown is the "
                "engine's local cache of them (Docker's dual logging), which keeps the "
                "latest only: 5 files of 20 MB per container unless cache-max-file and "
                "cache-max-size say otherwise"
            )
        else:
            notes.append(
                f"{who}: the {driver} driver keeps nothing on the engine, so none of "
                f"their lines can be shown; read them where {driver} sends them"
            )
    return notes
