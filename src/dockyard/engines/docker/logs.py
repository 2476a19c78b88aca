"""Reading containers' output through Docker's logs API, with its timestamps.

``GET /containers/{id}/logs?timestamps=1`` answers with Docker's multiplexed
stream: frames of an 8-byte header (the stream: 1 stdout, 2 stderr; then the
payload's length, big-endian) and a payload that starts with the line's
RFC 3339 timestamp (nanoseconds) and a space. The frames are parsed here from
large reads, not a frame at a time, which is most of what reading many
containers costs on this side.

Containers that start while an environment's logs are followed come from the
engine's event stream (``start`` events with the environment's label), whose
attributes carry the container's labels.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import docker
import requests

from dockyard.engines.model import LogDriverInfo, LogLine, LogSource, LogWindow
from dockyard.plan.model import (
    LABEL_CONTAINER,
    LABEL_KIND,
    LABEL_REPLICA,
    LABEL_ROLE,
    LABEL_SERVICE,
)

READ_SIZE = 1 << 16
"""Bytes asked for at a time when the whole answer is wanted (no follow)."""
UNTIL_SLACK = 1_000_000_000
"""Nanoseconds past ``until`` that the engine is asked for, the lines after it
being dropped here: the engine stops at the first line stamped after ``until``
in its file, and a line of one stream may follow there a later-stamped line of
the other (each is stamped as it is read from its own pipe)."""
_HEADER = struct.Struct(">BxxxL")
_STREAMS = {1: "stdout", 2: "stderr", 0: "stdout"}
_QUIET_ROLES = frozenset({"keeper", "network", "volume", "secrets"})
"""Roles whose containers print nothing (a secrets keeper) or that are no container."""
LOCAL_DRIVERS = frozenset({"json-file", "local", "journald"})
"""Drivers the engine reads back itself; others only through its local cache."""


def source_of(container_id: str, name: str, labels: Mapping[str, str]) -> LogSource | None:
    """The log source a container is, from its labels; None for one that prints
    nothing (a keeper) or that Dockyard did not make."""
    service = labels.get(LABEL_SERVICE)
    role = labels.get(LABEL_ROLE, "main")
    if not service or role in _QUIET_ROLES:
        return None
    kind = labels.get(LABEL_KIND, "service")
    replica: int | None = None
    if kind != "task":
        try:
            replica = int(labels.get(LABEL_REPLICA, "1"))
        except ValueError:
            replica = 1
    return LogSource(
        id=container_id,
        name=name.lstrip("/"),
        service=service,
        kind=kind,
        container=labels.get(LABEL_CONTAINER, name.lstrip("/")),
        role="task" if kind == "task" else role,
        replica=replica,
    )


def sources(summaries: list[Mapping[str, Any]]) -> list[LogSource]:
    """The log sources of a container list, in a stable order."""
    found = []
    for s in summaries:
        names: list[str] = s.get("Names") or [s["Id"][:12]]
        source = source_of(s["Id"], names[0], s.get("Labels") or {})
        if source is not None:
            found.append(source)
    return sorted(found, key=lambda x: (x.service, x.replica or 0, x.role != "main", x.name))


def seconds(ns: int) -> str:
    """Nanoseconds since the epoch as the API's ``seconds.nanoseconds``."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def open_log(
    api: docker.APIClient, container_id: str, window: LogWindow, follow: bool
) -> requests.Response | None:
    """The open answer of the logs API; None when there is nothing to read: the
    container is gone or going (a conflict: its removal is in progress), or its
    log driver keeps no lines the engine can read (Not Implemented)."""
    params: dict[str, str | int] = {"stdout": 1, "stderr": 1, "timestamps": 1}
    if follow:
        params["follow"] = 1
    if window.since is not None:
        params["since"] = seconds(window.since)
    if window.until is not None:
        params["until"] = seconds(window.until + UNTIL_SLACK)
    params["tail"] = "all" if window.tail is None else window.tail
    url = f"{api.base_url}/v{api.api_version}/containers/{container_id}/logs"
    res = api.get(url, params=params, stream=True, timeout=None if follow else api.timeout)
    if res.status_code in (404, 409, 501):
        res.close()
        return None
    if res.status_code >= 400:
        detail = res.text
        res.close()
        raise docker.errors.APIError(detail, response=res, explanation=detail)
    return res


def chunks(res: requests.Response, follow: bool) -> Iterator[bytes]:
    """The answer's bytes: as they arrive when following, in large reads otherwise."""
    if follow:
        yield from res.iter_content(chunk_size=None)
        return
    while True:
        data = res.raw.read(READ_SIZE)
        if not data:
            return
        yield data


MAX_LINE = 1 << 20
"""Characters of a long line joined from its parts; a longer one is shown in pieces
of this size, so that a program that never writes a newline costs bounded memory."""


def lines_of(data: Iterator[bytes], tty: bool = False) -> Iterator[LogLine]:
    """Log lines from the multiplexed stream's bytes (or a terminal's raw ones)."""
    clock = _Clock()
    if tty:  # no frames: lines of "<timestamp> <text>\n"
        rest = b""
        for chunk in data:
            rest += chunk
            *whole, rest = rest.split(b"\n")
            for raw in whole:
                yield clock.line(1, raw.rstrip(b"\r"))
        if rest:
            yield clock.line(1, rest)
        return
    buf = b""
    unpack = _HEADER.unpack_from
    line = clock.line
    parts: dict[int, LogLine] = {}  # per stream, the parts of a long line read so far
    for chunk in data:
        buf = buf + chunk if buf else chunk
        at, end = 0, len(buf)
        while end - at >= 8:
            stream, size = unpack(buf, at)
            stop = at + 8 + size
            if stop > end:
                break
            whole = buf[stop - 1] == 10
            # the payload without its newline (a long line's parts have none)
            read = line(stream, buf[at + 8 : stop - 1 if whole else stop])
            at = stop
            if whole and not parts:
                yield read
                continue
            joined = _joined(parts, stream, read, whole)
            if joined is not None:
                yield joined
        buf = buf[at:]
    yield from sorted(parts.values())  # a last line without its newline


def _joined(parts: dict[int, LogLine], stream: int, read: LogLine, whole: bool) -> LogLine | None:
    """Docker keeps a line longer than 16 KiB as parts without a newline: the
    line they make, at the first part's time, once its last part is read (or
    once it is MAX_LINE long); None while it goes on."""
    first = parts.pop(stream, None)
    if first is not None:
        read = LogLine(first.time, first.stream, first.text + read.text)
    if whole or len(read.text) >= MAX_LINE:
        return read
    parts[stream] = read
    return None


class _Clock:
    """Turns Docker's timestamps into nanoseconds, remembering the last second
    read (most lines share it with the one before)."""

    __slots__ = ("_base", "_prefix")

    def __init__(self) -> None:
        self._prefix = b""
        self._base = 0

    def line(self, stream: int, payload: bytes) -> LogLine:
        space = payload.find(b" ")
        if space == 30 and payload[29] == 90 and payload[19] == 46 and payload[:19] == self._prefix:
            when = self._base + int(payload[20:29])  # ...:SS.nnnnnnnnnZ in the same second
        else:
            when = self.ns(payload[:space] if space > 0 else payload)
        text = payload[space + 1 :] if space > 0 else b""
        return LogLine(when, _STREAMS.get(stream, "stdout"), text.decode("utf-8", "replace"))

    def ns(self, stamp: bytes) -> int:
        """``2026-12-04T02:05:06.821276935Z`` (fraction of any length, or none, and
        a ``Z`` or an offset) as nanoseconds since the epoch."""
        prefix = stamp[:19]
        if prefix != self._prefix:
            try:
                when = datetime.fromisoformat(prefix.decode()).replace(tzinfo=UTC)
            except ValueError:
                return 0
            self._prefix, self._base = prefix, int(when.timestamp()) * 1_000_000_000
        rest = stamp[19:]
        fraction = 0
        if rest.startswith(b"."):
            digits = rest[1:].rstrip(b"Z")
            cut = next((i for i, c in enumerate(digits) if not 48 <= c <= 57), len(digits))
            offset = digits[cut:]
            digits = digits[:cut]
            fraction = int((digits + b"000000000")[:9] or b"0")
            rest = offset
        else:
            rest = rest.rstrip(b"Z")
        return self._base + fraction - _offset_ns(rest)


def _offset_ns(text: bytes) -> int:
    """``+02:00`` as nanoseconds; 0 for none (UTC)."""
    if len(text) < 6 or text[:1] not in (b"+", b"-"):
        return 0
    minutes = int(text[1:3]) * 60 + int(text[4:6])
    sign = 1 if text[:1] == b"+" else -1
    return sign * minutes * 60 * 1_000_000_000


def driver_info(info: Mapping[str, Any]) -> LogDriverInfo:
    """A container's log driver from its inspect, and whether the engine can read
    its lines back: those of its own drivers always; of the others through its
    local cache (Docker 20.10's "dual logging"), unless the container turned it
    off (``cache-disabled``). Where the daemon turned it off for all, reading
    finds nothing (:func:`open_log`)."""
    config = (info.get("HostConfig") or {}).get("LogConfig") or {}
    driver = str(config.get("Type") or "json-file")
    options = {str(k): str(v) for k, v in (config.get("Config") or {}).items()}
    if driver == "none":
        return LogDriverInfo(driver, options, False)
    if driver in LOCAL_DRIVERS:
        return LogDriverInfo(driver, options, True)
    return LogDriverInfo(driver, options, options.get("cache-disabled", "false") != "true")


class StartWatch:
    """The containers of an environment that start, from the engine's events."""

    def __init__(self, api: docker.APIClient, environment_filter: str, since: int) -> None:
        self._events = api.events(
            since=since // 1_000_000_000,
            filters={"type": "container", "event": ["start"], "label": environment_filter},
            decode=True,
        )

    def __iter__(self) -> Iterator[LogSource]:
        try:
            for event in self._events:
                actor = event.get("Actor") or {}
                attributes: dict[str, str] = actor.get("Attributes") or {}
                source = source_of(
                    str(actor.get("ID") or event.get("id")), attributes.get("name", ""), attributes
                )
                if source is not None:
                    yield source
        except (requests.RequestException, OSError, AttributeError, ValueError):
            return  # closed

    def close(self) -> None:
        self._events.close()
