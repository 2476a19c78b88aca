"""The times ``dockyard logs`` takes and prints: durations back from now or RFC 3339
times in, nanoseconds since the epoch inside, RFC 3339 with nanoseconds out."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dockyard.errors import DockyardError
from dockyard.spec.units import parse_duration

NS = 1_000_000_000

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FRACTION = re.compile(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$")


class LogsError(DockyardError):
    """A ``dockyard logs`` argument is not valid (a time, a pattern, a service)."""

    code = "DY800"


def parse_time(text: str, now: int, flag: str = "--since") -> int:
    """``10m``, ``1h30m``-free ``90s``, ``2026-12-04T02:00:00Z`` or a date, as
    nanoseconds since the epoch; a duration counts back from ``now``."""
    value = text.strip()
    try:
        return now - round(parse_duration(value) * NS)
    except ValueError:
        pass
    if _DATE_ONLY.match(value):
        value += "T00:00:00Z"
    fraction = 0
    found = _FRACTION.match(value)
    if found:  # Python's datetime keeps microseconds; the engine's stamps are finer
        value = found.group(1) + found.group(3)
        fraction = int((found.group(2) + "000000000")[:9])
    try:
        when = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise LogsError(
            f"{flag} {text!r} is neither a duration nor a time",
            hint="write a duration back from now (30s, 10m, 2h) or an RFC 3339 time "
            "(2026-12-04T02:00:00Z, 2026-12-04T03:00:00+01:00)",
        ) from None
    if when.tzinfo is None:
        raise LogsError(
            f"{flag} {text!r} has no time zone",
            hint="end it with Z for UTC or an offset such as +01:00",
        )
    return int(when.timestamp()) * NS + fraction


def format_time(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 in UTC with all nine digits."""
    when = datetime.fromtimestamp(ns // NS, UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{ns % NS:09d}Z"
