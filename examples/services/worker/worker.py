"""Worker: picks items the API has not processed yet and processes them.

It talks to the API by name (``API_URL``, ``http://api:8000`` by default) and
touches a heartbeat file after every item and every pass over the queue,
whether or not the API answered. ``worker.py --check`` exits 0 when that file
is fresher than ``HEARTBEAT_MAX_AGE`` seconds: the container's health check.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

log = logging.getLogger("worker")

HEARTBEAT = Path(os.environ.get("HEARTBEAT_FILE", "/tmp/worker.heartbeat"))
HEARTBEAT_MAX_AGE = float(os.environ.get("HEARTBEAT_MAX_AGE", "10"))


class Api:
    def __init__(self, base_url: str, timeout: float = 5.0, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token = token  # the workers' token, which api asks of whoever processes

    def call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.base_url + path, method=method)
        request.add_header("Accept", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.load(response)

    def new_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.call("GET", "/items?status=new")
        return items

    def process(self, item_id: int) -> dict[str, Any]:
        item: dict[str, Any] = self.call("POST", f"/items/{item_id}/process")
        return item


def process(item: dict[str, Any], delay: float) -> None:
    """The work itself; the example only takes its time."""
    if delay:
        time.sleep(delay)


def run(api: Api, interval: float, delay: float, stop: threading.Event) -> None:
    api_was_up = True
    while not stop.is_set():
        try:
            for item in api.new_items():
                if stop.is_set():
                    break  # the rest stays new for the next worker
                process(item, delay)
                done = api.process(item["id"])
                log.info("processed item %s (%s)", done["id"], done["name"])
                HEARTBEAT.touch()
            if not api_was_up:
                log.info("api is back")
            api_was_up = True
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if api_was_up:
                log.warning("api unavailable: %s", exc)
            api_was_up = False
        HEARTBEAT.touch()
        stop.wait(interval)


def check() -> int:
    try:
        age = time.time() - HEARTBEAT.stat().st_mtime
    except FileNotFoundError:
        print(f"no heartbeat at {HEARTBEAT}")
        return 1
    if age > HEARTBEAT_MAX_AGE:
        print(f"last heartbeat {age:.1f}s ago (limit {HEARTBEAT_MAX_AGE:g}s)")
        return 1
    return 0


def main() -> int:
    if sys.argv[1:] == ["--check"]:
        return check()
    logging.basicConfig(
        stream=sys.stdout,
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    token_file = os.environ.get("WORKER_TOKEN_FILE")  # a secret under /run/secrets
    token = Path(token_file).read_text().strip() if token_file else None
    api = Api(os.environ.get("API_URL", "http://api:8000"), token=token)
    interval = float(os.environ.get("POLL_INTERVAL", "1"))
    delay = float(os.environ.get("PROCESS_DELAY", "0"))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    log.info("polling %s every %gs", api.base_url, interval)
    run(api, interval, delay, stop)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
