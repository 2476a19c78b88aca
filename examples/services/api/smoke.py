"""Smoke test of a deployed API, run once the rollout is done (the `smoke` task).

It reaches the API the way the other services do, by name on the environment's
network (``SMOKE_URL``, ``http://api:8000`` by default), and checks that:

- every replica behind the name answers ``GET /healthz`` with 200;
- ``GET /items`` answers 200 with a JSON list of items.

It changes nothing. Exit status 0 when every check passed, 1 otherwise; each
check prints one line.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 5.0
ATTEMPTS = 3  # a check that fails is tried again after a second, twice


def get(url: str, host: str | None = None) -> tuple[int, Any]:
    """GET ``url`` and return its status and JSON body; ``host`` sets the Host header
    when ``url`` names one replica by address."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")[:200]


def replicas(base: str) -> list[str]:
    """The addresses the service's name resolves to: one per replica."""
    parts = urlsplit(base)
    infos = socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def attempt(what: str, check: Callable[[], str | None]) -> bool:
    """Run ``check`` (returns an error or None) up to ATTEMPTS times; print the result."""
    error: str | None = None
    for n in range(ATTEMPTS):
        try:
            error = check()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = str(getattr(exc, "reason", exc))
        if error is None:
            print(f"ok    {what}", flush=True)
            return True
        if n + 1 < ATTEMPTS:
            time.sleep(1.0)
    print(f"FAIL  {what}: {error}", flush=True)
    return False


def main() -> int:
    base = os.environ.get("SMOKE_URL", "http://api:8000").rstrip("/")
    parts = urlsplit(base)
    port = parts.port or 80
    try:
        addresses = replicas(base)
    except OSError as exc:
        print(f"FAIL  resolve {parts.hostname}: {exc}")
        return 1
    print(f"{parts.hostname} resolves to {len(addresses)} replica(s): {', '.join(addresses)}")

    def healthz(address: str) -> str | None:
        host = f"[{address}]" if ":" in address else address
        status, body = get(f"http://{host}:{port}/healthz", host=parts.netloc)
        return None if status == 200 else f"answered {status}: {body}"

    def items() -> str | None:
        status, body = get(f"{base}/items")
        if status != 200:
            return f"answered {status}: {body}"
        if not isinstance(body, list):
            return f"expected a JSON list, got {type(body).__name__}"
        missing = [k for item in body[:50] for k in ("id", "name", "status") if k not in item]
        return f"items lack {sorted(set(missing))}" if missing else None

    results = [attempt(f"GET /healthz on {a}", lambda a=a: healthz(a)) for a in addresses]
    results.append(attempt(f"GET {base}/items", items))
    failed = results.count(False)
    print(f"smoke: {len(results) - failed} of {len(results)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
