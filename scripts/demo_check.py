"""Check the deployed example end to end, through the web front end only.

    python scripts/demo_check.py http://127.0.0.1:8080

Waits until the front end answers, adds an item through its JSON passthrough
(web -> api -> Postgres), reads it back, and waits until the worker has
processed it. Exits 1 with the reason when a step does not happen in time.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Failed(Exception):
    pass


def request(method: str, url: str, payload: Any = None) -> tuple[int, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def until(what: str, timeout: float, attempt: Callable[[], T | None]) -> T:
    """Call ``attempt`` until it returns a value, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        try:
            value = attempt()
            if value is not None:
                return value
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        except Failed as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise Failed(f"{what}: nothing after {timeout:g}s ({last})")
        time.sleep(0.25)


def main(base: str) -> int:
    base = base.rstrip("/")
    name = f"demo item {time.strftime('%H:%M:%S')}"

    def healthy() -> bool | None:
        status, _ = request("GET", f"{base}/healthz")
        return True if status == 200 else None

    def create() -> dict[str, Any] | None:
        status, body = request("POST", f"{base}/api/items", {"name": name})
        if status != 201:
            raise Failed(f"POST /api/items answered {status}: {body}")
        return dict(body)

    def stored(item_id: int) -> dict[str, Any] | None:
        status, body = request("GET", f"{base}/api/items")
        if status != 200:
            raise Failed(f"GET /api/items answered {status}: {body}")
        return next((i for i in body if i["id"] == item_id), None)

    def processed(item_id: int) -> dict[str, Any] | None:
        item = stored(item_id)
        return item if item and item.get("status") == "processed" else None

    try:
        until(f"{base}/healthz", 120, healthy)
        print(f"web answers at {base}")
        item = until("adding an item through the web front end", 30, create)
        found = until("reading the item back", 10, lambda: stored(item["id"]))
        print(f"web -> api -> Postgres: item #{found['id']} {found['name']!r} stored")
        until("the worker to process the item", 30, lambda: processed(item["id"]))
        print(f"worker: item #{found['id']} processed")
    except Failed as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"))
