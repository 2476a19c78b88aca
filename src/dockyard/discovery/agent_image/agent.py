"""The catalog agent of one Dockyard environment.

At each event of the environment's containers (``GET /events``: a start, a death,
a health check's verdict), and every DOCKYARD_INTERVAL seconds besides, it lists
the environment's containers through the engine's socket, works out the healthy endpoints
(``dockyard.discovery.registrars.containers``) and syncs every registrar the
environment file lists (DOCKYARD_REGISTRARS): new entries are registered, gone
ones removed, leases and TTL checks renewed. When it stops, nothing renews them,
and the entries expire by themselves.

It logs one line when the endpoints change and when a registrar fails or
recovers; never a registrar's configuration.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from dockyard.discovery.registrars import Registrar, RegistrarError, registrar_for
from dockyard.discovery.registrars.containers import entries_of

SOCKET = "/var/run/docker.sock"
EVENTS = ("start", "die", "health_status", "pause", "unpause", "destroy")
"""What changes an endpoint; not the health checks' own execs, which come every second."""
FOLLOW_UP = 0.25
"""Seconds after an event's pass to the next one."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


def containers(environment: str) -> list[dict[str, Any]]:
    """The environment's running containers, as Docker lists them."""
    filters = json.dumps({"label": [f"dockyard.env={environment}"]})
    connection = _UnixConnection(SOCKET, timeout=10.0)
    try:
        connection.request("GET", "/containers/json?filters=" + urllib.parse.quote(filters))
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise OSError(f"the engine answered HTTP {response.status}")
    found = json.loads(body)
    return found if isinstance(found, list) else []


def watch_events(environment: str, wake: threading.Event) -> None:
    """Set ``wake`` at each event of the environment's containers (a start, a death,
    a health check's verdict), so that a pass follows at once; the stream is opened
    again when it drops. The interval's passes go on regardless."""
    filters = json.dumps(
        {
            "type": ["container"],
            "label": [f"dockyard.env={environment}"],
            "event": list(EVENTS),
        }
    )
    while True:
        connection = _UnixConnection(SOCKET, timeout=None)
        try:
            connection.request("GET", "/events?filters=" + urllib.parse.quote(filters))
            response = connection.getresponse()
            while response.readline():
                wake.set()
        except OSError:
            pass
        finally:
            connection.close()
        wake.set()  # whatever happened meanwhile is looked at
        time.sleep(1.0)


def log(message: str) -> None:
    print(f"catalog-agent: {message}", flush=True)


def main() -> int:
    environment = os.environ["DOCKYARD_ENVIRONMENT"]
    interval = float(os.environ.get("DOCKYARD_INTERVAL", "1"))
    heartbeat = Path(os.environ.get("DOCKYARD_HEARTBEAT", "/tmp/dockyard-catalog-agent.alive"))
    routes = json.loads(os.environ.get("DOCKYARD_ROUTES") or "{}")
    configs = json.loads(os.environ.get("DOCKYARD_REGISTRARS") or "[]")
    registrars: list[Registrar] = [registrar_for(c, environment) for c in configs]
    failing: dict[int, str] = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(f"keeping {len(registrars)} registrar(s) in sync for {environment} every {interval:g}s")
    shown: list[str] | None = None
    wake = threading.Event()
    woken = False
    threading.Thread(target=watch_events, args=(environment, wake), daemon=True).start()
    while True:
        wake.clear()
        try:
            entries = entries_of(containers(environment), environment, routes)
        except (OSError, ValueError) as e:
            log(f"cannot list the containers: {e}")
            entries = None
        if entries is not None:
            heartbeat.touch()
            keys = [f"{e.key}={e.address}:{e.port}" for e in entries]
            if keys != shown:
                log(f"{len(entries)} endpoint(s): {', '.join(keys) or 'none'}")
                shown = keys
            for i, registrar in enumerate(registrars):
                try:
                    registrar.sync(entries)
                except RegistrarError as e:
                    if failing.get(i) != e.message:
                        log(f"{registrar.kind}: {e.message}")
                    failing[i] = e.message
                    continue
                if failing.pop(i, None) is not None:
                    log(f"{registrar.kind}: in sync again")
        # After an event, look again shortly: the list may lag the event a moment.
        woken = wake.wait(FOLLOW_UP if woken else interval)


if __name__ == "__main__":
    sys.exit(main())
