"""What the ingress saw of each upstream (replica): responses by status class,
failed connections and latency, read from Caddy's own log.

Caddy 2.6 (Debian's 2.6.2) has no per-upstream request figures anywhere else:
its ``/metrics`` carries ``caddy_reverse_proxy_upstreams_healthy`` and the admin
API's request counts only (no ``caddy_http_*`` series at all), and
``/reverse_proxy/upstreams`` gives requests in flight and passive-check failures,
which the config does not use. Its reverse proxy logs one ``upstream roundtrip``
line per attempt at debug level instead, with the upstream's dial address, the
time to the answer's headers, and either the status or the error that stopped
the attempt (a refused connection, a replica that broke off). A retried attempt
is a line of its own, so a refusal counts against the replica that refused, not
the one that answered in the end.

The ingress writes those lines (and only those, with the proxy's "selected
upstream" lines that come with them, without headers) to :data:`TRAFFIC_LOG`
inside its container, rolled at :data:`ROLL_MB`; nothing is written while no
request comes.
The public servers' access log goes to the container's output (see
:func:`logging_config`). :class:`TrafficLog` reads the new lines through the
engine (an exec, like the admin API client), with a small program that keeps
only what a figure needs.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.discovery.ingress import IngressError, exec_printing
from dockyard.engines.access import ContainerAccess

TRAFFIC_LOG = "/run/dockyard-ingress/roundtrips.log"
ROLL_MB = 10
"""The traffic log is rolled at this many megabytes (about 30,000 attempts, at
~300 bytes each with the "selected upstream" line); one rolled file is kept."""
PROXY_LOGGER = "http.handlers.reverse_proxy"
HEALTH_LOGGER = "http.handlers.reverse_proxy.health_checker"
ACCESS_LOGGER = "http.log.access"
FIRST_READ_BYTES = 2_000_000
"""How far back the first read of a log goes (about 6,000 attempts): the recent
past, for a baseline."""
READ_BYTES = 12_000_000
"""At most this much of the log is read by one exec (more than a rolled file
holds); the rest by the next."""
READS = 8
"""Execs one :meth:`TrafficLog.read` may take to catch up."""
KEEP = 200_000
"""Samples a :class:`TrafficLog` keeps in memory (the oldest go first)."""
CONNECTION_ERROR = 0
"""The status of a sample whose attempt got no answer."""

_READ_PROGRAM = """
import glob, json, os, sys, time
path, inode, offset, first, limit = sys.argv[1], *map(int, sys.argv[2:6])
out = []
def scan(name, start):
    with open(name, "rb") as f:
        f.seek(start)
        data = f.read(limit)
    end = data.rfind(b"\\n") + 1
    for line in data[:end].splitlines():
        if b'"upstream roundtrip"' not in line:
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        error = str(r.get("error") or "")
        if "context canceled" in error:
            continue  # the client went away: nothing the replica did
        status = 0 if error else int(r.get("status") or 0)
        out.append([round(r.get("ts", 0), 4), r.get("upstream", ""), status,
                    round(float(r.get("duration") or 0), 5)])
    return start + end, len(data) == limit and end > 0
now = time.time()
try:
    st = os.stat(path)
except FileNotFoundError:
    print(json.dumps({"now": now, "inode": 0, "offset": 0, "more": False, "samples": []}))
    sys.exit(0)
if inode and st.st_ino != inode:
    stem, ext = os.path.splitext(path)
    for name in glob.glob(stem + "-*" + ext):
        if os.stat(name).st_ino == inode:
            scan(name, offset)
    offset = 0
elif not inode:
    def after(name, start):
        if not start:
            return 0
        with open(name, "rb") as f:
            f.seek(start)
            return start + len(f.readline())
    stem, ext = os.path.splitext(path)
    rolled = sorted(glob.glob(stem + "-*" + ext), key=os.path.getmtime)
    if st.st_size < first and rolled:
        size = os.path.getsize(rolled[-1])
        scan(rolled[-1], after(rolled[-1], max(0, size - (first - st.st_size))))
    offset = after(path, max(0, st.st_size - first))
if st.st_size < offset:
    offset = 0
offset, more = scan(path, offset)
print(json.dumps({"now": now, "inode": st.st_ino, "offset": offset, "more": more,
                  "samples": out}, separators=(",", ":")))
"""
"""Prints the roundtrips logged since ``offset`` of the file ``inode`` (the rest of
a rolled file first), as ``[ts, upstream, status, duration]``; the first read
(inode 0) starts ``first`` bytes before the end (in the rolled file, if the
current one is shorter)."""


def logging_config(*, traffic: bool = True) -> dict[str, Any]:
    """Caddy's ``logging``: warnings and errors to the container's output; the
    access log of the public servers there too (one JSON line per request);
    with ``traffic``, the proxy's attempts to :data:`TRAFFIC_LOG`. Caddy logs
    every admin API request at info level, and the health check makes one a
    second: the default log stays at WARN."""
    logs: dict[str, Any] = {
        "default": {"level": "WARN", "exclude": [ACCESS_LOGGER, PROXY_LOGGER]},
        "access": {"level": "INFO", "include": [ACCESS_LOGGER], "writer": {"output": "stdout"}},
    }
    if traffic:
        logs["traffic"] = {
            "level": "DEBUG",
            "include": [PROXY_LOGGER],
            "exclude": [HEALTH_LOGGER],
            "writer": {
                "output": "file",
                "filename": TRAFFIC_LOG,
                "roll_size_mb": ROLL_MB,
                "roll_keep": 1,
            },
            # Without the request's and the answer's headers: a line is ~170 bytes.
            "encoder": {
                "format": "filter",
                "wrap": {"format": "json"},
                "fields": {"request": {"filter": "delete"}, "headers": {"filter": "delete"}},
            },
        }
        logs["proxy"] = {"level": "WARN", "include": [PROXY_LOGGER]}
    else:
        logs["default"]["exclude"] = [ACCESS_LOGGER]
    return {"logs": logs}


@dataclass(frozen=True)
class Sample:
    """One attempt of the ingress on an upstream: when (the ingress's clock),
    which upstream, the status (CONNECTION_ERROR for none) and seconds to the
    answer's headers (or to the failure)."""

    at: float
    upstream: str
    status: int
    duration: float


@dataclass(frozen=True)
class Figures:
    """What the ingress saw of some upstreams: attempts by status class, failed
    connections, and the 95th percentile of the time to the answer."""

    requests: int = 0
    classes: tuple[int, int, int, int] = (0, 0, 0, 0)  # 2xx, 3xx, 4xx, 5xx
    connection_errors: int = 0
    p95: float | None = None
    first: float | None = None  # the earliest and latest sample (the ingress's clock)
    last: float | None = None

    @property
    def server_errors(self) -> int:
        return self.classes[3]

    @property
    def failed(self) -> int:
        return self.server_errors + self.connection_errors

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Figures:
        if not samples:
            return cls()
        classes = [0, 0, 0, 0]
        errors = 0
        for s in samples:
            if s.status == CONNECTION_ERROR:
                errors += 1
            elif 200 <= s.status < 600:
                classes[max(0, s.status // 100 - 2)] += 1
        return cls(
            requests=len(samples),
            classes=(classes[0], classes[1], classes[2], classes[3]),
            connection_errors=errors,
            p95=percentile([s.duration for s in samples], 0.95),
            first=min(s.at for s in samples),
            last=max(s.at for s in samples),
        )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of ``values`` (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class TrafficLog:
    """The traffic log of the ingress container ``container_id``, read as it grows.
    Thread-safe: the rollouts of one deploy share it."""

    def __init__(self, engine: ContainerAccess, container_id: str, path: str = TRAFFIC_LOG) -> None:
        self.engine = engine
        self.container_id = container_id
        self.path = path
        self.now: float | None = None  # the ingress's clock at the last read
        self._samples: deque[Sample] = deque(maxlen=KEEP)
        self._inode = 0
        self._offset = 0
        self._lock = threading.Lock()

    def read(self, first: int = FIRST_READ_BYTES) -> float:
        """Take in what the ingress logged since the last read (the last ``first``
        bytes the first time); returns the ingress's clock. Raises IngressError
        when the log cannot be read."""
        with self._lock:
            for _ in range(READS):
                answer = self._read_once(first)
                now = float(answer["now"])
                if not answer.get("more"):
                    break
            self.now = now
            return now

    def _read_once(self, first: int) -> dict[str, Any]:
        argv = [
            "python3",
            "-c",
            _READ_PROGRAM,
            self.path,
            str(self._inode),
            str(self._offset),
            str(first),
            str(READ_BYTES),
        ]
        code, output = exec_printing(self.engine, self.container_id, argv)
        try:
            answer = json.loads(output.strip().splitlines()[-1])
            samples = [
                Sample(float(a), str(u), int(s), float(d)) for a, u, s, d in answer["samples"]
            ]
            inode, offset = int(answer["inode"]), int(answer["offset"])
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise IngressError(
                f"cannot read the ingress's traffic log (exit code {code}): {output.strip()[-300:]}"
            ) from e
        self._samples.extend(samples)
        self._inode, self._offset = inode, offset
        return dict(answer)

    def samples(self, upstreams: Iterable[str], since: float | None = None) -> list[Sample]:
        """The samples of ``upstreams`` taken in so far, from ``since`` on."""
        wanted = set(upstreams)
        with self._lock:
            return [
                s
                for s in self._samples
                if s.upstream in wanted and (since is None or s.at >= since)
            ]

    def samples_since(self, since: float) -> list[Sample]:
        """Every sample taken in so far, of any upstream, from ``since`` on."""
        with self._lock:
            return [s for s in self._samples if s.at >= since]

    def figures(self, upstreams: Iterable[str], since: float | None = None) -> Figures:
        return Figures.of(self.samples(upstreams, since))
