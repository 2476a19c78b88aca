"""The supervisor of one Dockyard environment. Runs in a container of its own, on the
engine, and talks to the engine through its socket (standard library only: the
image has python3 and nothing else).

It watches the environment's container events (``start`` and ``die``) and, after
each one, when the event stream comes back after a drop, and every
``DOCKYARD_RECONCILE_EVERY`` seconds, looks at every container of the
environment and:

- starts a container that is stopped although its restart policy says it should
  run (``always``, ``unless-stopped``, or ``on-failure`` after a non-zero exit):
  Docker does not apply the policy after ``docker kill`` or ``docker stop``;
  a container Docker is restarting is left to Docker;
- restarts a container that joins another's network namespace
  (``network_mode=container:<id>``, a sidecar) when it started before that
  container's current start, so that it re-joins the new namespace; one that is
  stopped is started once the container it joins runs.

Only the containers of tasks Dockyard made are looked at (``dockyard.role`` main
or sidecar); one-off task containers, the supervisor itself, and containers
whose restart policy is ``no`` (what Dockyard sets before it removes a task) are
left alone. Each action is one line on stdout; nothing of a container's
configuration but its name, exit code and policy is printed.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SOCKET = "/var/run/docker.sock"
LABEL_ENV = "dockyard.env"
LABEL_ROLE = "dockyard.role"
LABEL_KIND = "dockyard.kind"
LABEL_TASK = "dockyard.task"
LABEL_SERVICE = "dockyard.service"
SELF = "supervisor"
"""The supervisor's own service name: it never acts on itself."""
ROLES = ("main", "sidecar")
KINDS = ("service", "accessory")
RUN_POLICIES = ("always", "unless-stopped")
SETTLE = 0.2
"""Seconds after a container stopped before it is started: Docker records whether
its restart policy applies before it reports the exit, this is a margin."""
API_TIMEOUT = 120.0
"""Seconds one API call may take (a restart waits for the container's stop grace)."""
RETRY_STREAM = 1.0
"""Seconds between two attempts to open the event stream."""
RECONNECTED = "reconnected"


def log(message: str) -> None:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    print(f"{stamp} {message}", flush=True)


# ------------------------------------------------------------------ the engine


class ApiError(Exception):
    """The engine answered an API call with an error."""


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Engine:
    """The Docker Engine API over its unix socket; one connection per call."""

    def __init__(self, path: str = SOCKET) -> None:
        self.path = path

    def call(self, method: str, path: str, **query: str) -> Any:
        connection = UnixConnection(self.path, API_TIMEOUT)
        try:
            url = path + ("?" + urllib.parse.urlencode(query) if query else "")
            connection.request(method, url, headers={"Content-Length": "0"})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status >= 400:
            raise ApiError(_message(body) or f"HTTP {response.status}")
        return json.loads(body) if body.strip() else None

    def containers(self, environment: str) -> list[str]:
        filters = json.dumps({"label": [f"{LABEL_ENV}={environment}"]})
        listed = self.call("GET", "/containers/json", all="1", filters=filters) or []
        return [str(c["Id"]) for c in listed]

    def inspect(self, container_id: str) -> Mapping[str, Any] | None:
        try:
            info = self.call("GET", f"/containers/{container_id}/json")
        except ApiError as e:
            if "no such container" in str(e).lower():
                return None
            raise
        return info if isinstance(info, dict) else None

    def events(self, environment: str) -> http.client.HTTPResponse:
        """The open event stream of the environment's container starts and exits."""
        filters = json.dumps(
            {
                "type": ["container"],
                "label": [f"{LABEL_ENV}={environment}"],
                "event": ["start", "die"],
            }
        )
        connection = UnixConnection(self.path, None)
        connection.request("GET", "/events?" + urllib.parse.urlencode({"filters": filters}))
        response = connection.getresponse()
        if response.status != 200:
            body = response.read()
            connection.close()
            raise ApiError(_message(body) or f"HTTP {response.status}")
        return response


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message") or "")
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace").strip()


# -------------------------------------------------------------- the decisions


@dataclass(frozen=True)
class Seen:
    """What one inspect says about one container."""

    id: str
    name: str
    labels: Mapping[str, str]
    status: str  # created | running | restarting | exited | paused | removing | dead
    exit_code: int
    policy: str
    started: datetime | None
    finished: datetime | None
    joins: str | None  # the container whose network namespace this one shares

    @property
    def managed(self) -> bool:
        """A container of a task Dockyard made (not a one-off, not the supervisor)."""
        labels = self.labels
        return (
            bool(labels.get(LABEL_TASK))
            and labels.get(LABEL_ROLE) in ROLES
            and labels.get(LABEL_KIND) in KINDS
            and labels.get(LABEL_SERVICE) != SELF
        )

    @property
    def should_run(self) -> bool:
        """Whether its restart policy says it runs after it stopped this way."""
        if self.policy in RUN_POLICIES:
            return True
        return self.policy == "on-failure" and self.exit_code != 0


@dataclass(frozen=True)
class Action:
    verb: str  # start | restart
    container: Seen
    why: str


def seen_of(info: Mapping[str, Any]) -> Seen:
    state: Mapping[str, Any] = info.get("State") or {}
    host: Mapping[str, Any] = info.get("HostConfig") or {}
    config: Mapping[str, Any] = info.get("Config") or {}
    mode = str(host.get("NetworkMode") or "")
    joins = mode.partition(":")[2] if mode.startswith("container:") else ""
    return Seen(
        id=str(info["Id"]),
        name=str(info.get("Name") or info["Id"][:12]).lstrip("/"),
        labels=config.get("Labels") or {},
        status=str(state.get("Status") or "unknown"),
        exit_code=int(state.get("ExitCode") or 0),
        policy=str((host.get("RestartPolicy") or {}).get("Name") or "no"),
        started=timestamp(state.get("StartedAt")),
        finished=timestamp(state.get("FinishedAt")),
        joins=joins or None,
    )


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def timestamp(text: object) -> datetime | None:
    """Docker's RFC 3339 time with nanoseconds; None for its zero time."""
    found = _STAMP.match(str(text or ""))
    if not found or str(text).startswith("0001-"):
        return None
    whole, fraction, zone = found.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(f"{whole}.{micro}{offset}")


def decide(containers: Iterable[Seen], now: datetime) -> tuple[list[Action], float | None]:
    """What to do about ``containers`` (all of an environment) at ``now``, and in how
    many seconds to look again for a container that stopped a moment ago."""
    every = list(containers)
    by_id = {c.id: c for c in every}
    by_name = {c.name: c for c in every}
    actions: list[Action] = []
    later: float | None = None
    for c in sorted(every, key=lambda c: c.joins is not None):  # mains first
        if not c.managed:
            continue
        main = _resolve(c.joins, by_id, by_name) if c.joins else None
        if c.joins and (main is None or main.status != "running"):
            continue  # once it runs, its start is an event
        if c.status == "running":
            if main is not None and _before(c.started, main.started):
                why = f"{main.name} restarted; re-joining its network namespace"
                actions.append(Action("restart", c, why))
            continue
        if c.status != "exited" or not c.should_run:
            continue
        if c.finished is not None:
            age = (now - c.finished).total_seconds()
            if age < SETTLE:
                wait = SETTLE - age
                later = wait if later is None else min(later, wait)
                continue
        why = f"it exited ({c.exit_code}) and its restart policy is {c.policy}"
        actions.append(Action("start", c, why))
    return actions, later


def _resolve(
    ref: str | None, by_id: Mapping[str, Seen], by_name: Mapping[str, Seen]
) -> Seen | None:
    if not ref:
        return None
    if ref in by_id:
        return by_id[ref]
    if ref in by_name:
        return by_name[ref]
    return next((c for i, c in by_id.items() if i.startswith(ref)), None)


def _before(first: datetime | None, second: datetime | None) -> bool:
    return first is not None and second is not None and first < second


# ------------------------------------------------------------------ the loop


class Supervisor:
    def __init__(self, engine: Engine, environment: str, heartbeat: str | None) -> None:
        self.engine = engine
        self.environment = environment
        self.heartbeat = heartbeat
        self._failed: dict[str, str] = {}  # container id -> the last error logged

    def reconcile(self) -> float | None:
        """One pass over the environment; seconds until the next one is due, if any.
        The heartbeat file then holds the time the pass began."""
        began = time.time()
        seen = []
        for container_id in self.engine.containers(self.environment):
            info = self.engine.inspect(container_id)
            if info is not None:
                seen.append(seen_of(info))
        actions, later = decide(seen, datetime.now(timezone.utc))  # noqa: UP017
        for action in actions:
            self._act(action)
        if self.heartbeat:
            with open(self.heartbeat, "w") as f:
                f.write(f"{began}\n")
        return later

    def _act(self, action: Action) -> None:
        c = action.container
        path = f"/containers/{c.id}/{action.verb}"
        try:
            self.engine.call("POST", path)
        except (ApiError, OSError, http.client.HTTPException) as e:
            if self._failed.get(c.id) != str(e):
                self._failed[c.id] = str(e)
                log(f"could not {action.verb} {c.name} ({action.why}): {e}")
            return
        self._failed.pop(c.id, None)
        verb = "started" if action.verb == "start" else "restarted"
        log(f"{verb} {c.name}: {action.why}")

    def watch(self, events: queue.Queue[object]) -> None:
        """Feed the event stream into ``events``, reconnecting when it drops."""
        lost = False
        while True:
            try:
                stream = self.engine.events(self.environment)
                if lost:
                    log("event stream back")
                lost = False
                events.put(RECONNECTED)
                for line in iter(stream.readline, b""):
                    if line.strip():
                        events.put(json.loads(line))
                stream.close()
                raise ConnectionError("the engine closed the event stream")
            except (ApiError, OSError, ValueError, http.client.HTTPException) as e:
                if not lost:
                    log(f"event stream lost ({e}); reconnecting")
                lost = True
                time.sleep(RETRY_STREAM)

    def run(self, every: float) -> None:
        events: queue.Queue[object] = queue.Queue()
        threading.Thread(target=self.watch, args=(events,), name="events", daemon=True).start()
        now = time.monotonic()
        due, periodic = now, now + every
        failing = False
        while True:
            wait = max(0.0, min(due, periodic) - time.monotonic())
            try:
                events.get(timeout=wait)
                due = time.monotonic()
                while not events.empty():
                    events.get_nowait()
            except queue.Empty:
                pass
            now = time.monotonic()
            if now < due and now < periodic:
                continue
            try:
                later = self.reconcile()
            except Exception as e:  # the engine is away, or answered nonsense: try again
                if not failing:
                    log(f"could not read the environment's containers ({e}); trying again")
                failing, later = True, RETRY_STREAM
            else:
                if failing:
                    log("reading the environment's containers again")
                failing = False
            now = time.monotonic()
            due = now + later if later is not None else float("inf")
            periodic = now + every


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    environment = os.environ["DOCKYARD_ENVIRONMENT"]
    every = float(os.environ.get("DOCKYARD_RECONCILE_EVERY", "30"))
    heartbeat = os.environ.get("DOCKYARD_HEARTBEAT") or None
    log(f"supervising environment {environment} (a full pass every {every:g}s)")
    Supervisor(Engine(os.environ.get("DOCKYARD_SOCKET", SOCKET)), environment, heartbeat).run(every)


if __name__ == "__main__":
    main()
