"""Stats sidecar: probes the API next to it and serves what it saw as metrics.

It runs in the API container's network namespace, so the API is on
127.0.0.1. ``GET /metrics`` (port 9100) returns Prometheus-style text.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("stats")


@dataclass
class Probes:
    ok: int = 0
    failed: int = 0
    up: bool = False
    last_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, up: bool, seconds: float) -> None:
        with self.lock:
            self.up = up
            self.last_seconds = seconds
            if up:
                self.ok += 1
            else:
                self.failed += 1

    def render(self) -> str:
        with self.lock:
            return (
                "# HELP api_up Whether the last probe of the API's /healthz succeeded.\n"
                "# TYPE api_up gauge\n"
                f"api_up {int(self.up)}\n"
                "# HELP api_probes_total Probes of the API's /healthz, by result.\n"
                "# TYPE api_probes_total counter\n"
                f'api_probes_total{{result="ok"}} {self.ok}\n'
                f'api_probes_total{{result="failed"}} {self.failed}\n'
                "# HELP api_probe_seconds Duration of the last probe.\n"
                "# TYPE api_probe_seconds gauge\n"
                f"api_probe_seconds {self.last_seconds:.6f}\n"
            )


def probe_forever(url: str, interval: float, probes: Probes, stop: threading.Event) -> None:
    was_up: bool | None = None
    while not stop.is_set():
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                up = response.status == 200
        except (urllib.error.URLError, OSError):
            up = False
        probes.record(up, time.monotonic() - started)
        if up != was_up:
            log.info("api is %s", "up" if up else "down")
            was_up = up
        stop.wait(interval)


def make_handler(probes: Probes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = probes.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scraped every few seconds; not worth a log line

    return Handler


def main() -> int:
    logging.basicConfig(
        stream=sys.stdout,
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    target = os.environ.get("STATS_TARGET", "http://127.0.0.1:8000/healthz")
    interval = float(os.environ.get("STATS_INTERVAL", "2"))
    port = int(os.environ.get("STATS_PORT", "9100"))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    probes = Probes()
    prober = threading.Thread(
        target=probe_forever, args=(target, interval, probes, stop), name="probe"
    )
    prober.start()
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(probes))
    serving = threading.Thread(target=server.serve_forever, name="http")
    serving.start()
    log.info("probing %s every %ss, metrics on :%d/metrics", target, interval, port)

    stop.wait()
    server.shutdown()
    server.server_close()
    serving.join()
    prober.join()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
