"""The catalog agent of one Dockyard environment.

Every DOCKYARD_INTERVAL seconds it lists the environment's containers through the
engine's socket, works out the healthy endpoints
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
import time
import urllib.parse
from pathlib import Path
from typing import Any

from dockyard.discovery.registrars import Registrar, RegistrarError, registrar_for
from dockyard.discovery.registrars.containers import entries_of

SOCKET = "/var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
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
    while True:
        started = time.monotonic()
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
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


if __name__ == "__main__":
    sys.exit(main())
