"""Web front end: lists the items with their status and adds new ones.

    GET  /            the page
    POST /items       the page's form (name=...), then back to /
    GET  /api/items   the API's GET /items, passed through
    POST /api/items   the API's POST /items, passed through
    GET  /healthz     200 while this process serves
    GET  /slow?seconds=N  200 after N seconds (at most 30), to see requests in flight

Every answer carries ``X-Replica``, the container's hostname, to tell replicas
apart. The API is reached by name (``API_URL``, ``http://api:8000`` by default).
"""

from __future__ import annotations

import html
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("web")

API_URL = os.environ.get("API_URL", "http://api:8000").rstrip("/")
API_TIMEOUT = 5.0
SLOW_MAX = 30.0
REPLICA = socket.gethostname()

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Items</title>
<style>
  body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 42rem; }}
  table {{ border-collapse: collapse; width: 100%; margin-top: 1rem; }}
  th, td {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }}
  .new {{ color: #a60; }} .processed {{ color: #080; }} .error {{ color: #b00; }}
</style>
</head>
<body>
<h1>Items</h1>
<form method="post" action="/items">
  <input name="name" placeholder="New item" required maxlength="200" autofocus>
  <button>Add</button>
</form>
{error}
<table>
  <thead><tr><th>#</th><th>Name</th><th>Status</th><th>Created</th></tr></thead>
  <tbody id="items">{rows}</tbody>
</table>
<p><small>web &rarr; api &rarr; Postgres; the worker marks new items processed.</small></p>
<script>
// Refresh the table every two seconds to show the worker's progress.
const ESC = {{"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}};
const esc = s => String(s).replace(/[&<>"]/g, c => ESC[c]);
setInterval(async () => {{
  const r = await fetch("/api/items");
  if (!r.ok) return;
  const items = await r.json();
  document.getElementById("items").innerHTML = items.map(i =>
    `<tr><td>${{i.id}}</td><td>${{esc(i.name)}}</td>` +
    `<td class="${{esc(i.status)}}">${{esc(i.status)}}</td><td>${{esc(i.created_at)}}</td></tr>`
  ).join("");
}}, 2000);
</script>
</body>
</html>
"""

ROW = '<tr><td>{id}</td><td>{name}</td><td class="{status}">{status}</td><td>{created_at}</td></tr>'


class ApiError(Exception):
    pass


def call_api(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """Send a request to the API; returns its status and body, errors included."""
    request = urllib.request.Request(API_URL + path, data=body, method=method)
    request.add_header("Accept", "application/json")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=API_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise ApiError(f"api unreachable: {getattr(exc, 'reason', exc)}") from exc


class Handler(BaseHTTPRequestHandler):
    server_version = "items-web/1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self.send(200, b'{"status": "ok"}', "application/json")
        elif url.path == "/":
            self.page()
        elif url.path == "/api/items":
            self.passthrough("GET", "/items", None)
        elif url.path == "/slow":
            self.slow(parse_qs(url.query).get("seconds", ["1"])[0])
        else:
            self.send(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/api/items":
            self.passthrough("POST", "/items", body)
        elif self.path == "/items":
            name = parse_qs(body.decode("utf-8", "replace")).get("name", [""])[0]
            try:
                status, answer = call_api("POST", "/items", json.dumps({"name": name}).encode())
            except ApiError as exc:
                self.page(error=str(exc), status=502)
                return
            if status != 201:
                self.page(error=_error_of(answer), status=status)
                return
            self.send_response(303)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send(404, b"not found\n", "text/plain")

    def page(self, error: str = "", status: int = 200) -> None:
        rows = ""
        try:
            code, answer = call_api("GET", "/items")
            if code == 200:
                items = json.loads(answer)
                rows = "".join(
                    ROW.format(**{k: html.escape(str(v)) for k, v in item.items()})
                    for item in items
                )
            else:
                error = error or _error_of(answer)
        except ApiError as exc:
            error, status = error or str(exc), 502
        shown = f'<p class="error">{html.escape(error)}</p>' if error else ""
        self.send(status, PAGE.format(rows=rows, error=shown).encode(), "text/html; charset=utf-8")

    def slow(self, seconds: str) -> None:
        try:
            delay = float(seconds)
        except ValueError:
            delay = -1.0
        if not delay >= 0.0:  # negative, not a number, or NaN
            self.send(400, b"seconds must be a number >= 0\n", "text/plain")
            return
        time.sleep(min(delay, SLOW_MAX))
        self.send(200, b"slow done\n", "text/plain")

    def passthrough(self, method: str, path: str, body: bytes | None) -> None:
        try:
            status, answer = call_api(method, path, body)
        except ApiError as exc:
            self.send(502, json.dumps({"error": str(exc)}).encode(), "application/json")
            return
        self.send(status, answer, "application/json")

    def send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self) -> None:
        self.send_header("X-Replica", REPLICA)
        super().end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.path != "/healthz":
            log.info("%s %s %s", self.command, self.path, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.warning("%s - %s", self.address_string(), format % args)


def _error_of(answer: bytes) -> str:
    try:
        return str(json.loads(answer).get("error", "the api refused the request"))
    except (ValueError, AttributeError):
        return "the api refused the request"


def main() -> int:
    logging.basicConfig(
        stream=sys.stdout,
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    port = int(os.environ.get("PORT", "8000"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = False  # server_close() waits for requests in flight
    thread = threading.Thread(target=server.serve_forever, name="http")
    thread.start()
    log.info("listening on :%d, api at %s", port, API_URL)

    stop.wait()
    log.info("stopping")
    server.shutdown()
    server.server_close()
    thread.join()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
