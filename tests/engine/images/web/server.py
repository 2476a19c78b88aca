"""A tiny HTTP server for the engine tests.

GET / answers "<MESSAGE> from <hostname>"; GET /healthz answers "ok"; GET
/slow?s=<seconds> answers like / after that many seconds (at most 30), to hold a
request in flight. HEAD and POST answer the same way (HEAD without the body);
/close closes the connection without answering. Every answer names MESSAGE in
its X-Replica header. With FAIL_EVERY=n, every n-th request other than /healthz
gets a 500 (the health check still passes). It listens on $PORT and exits at once on SIGTERM (as PID
1 it would otherwise ignore it), unless IGNORE_SIGTERM is set: then only the
SIGKILL at the end of its stop grace period ends it.
"""

import http.server
import itertools
import os
import signal
import socket
import sys
import time
import urllib.parse

PORT = int(os.environ.get("PORT", "8000"))
MESSAGE = os.environ.get("MESSAGE", "hello")
FAIL_EVERY = int(os.environ.get("FAIL_EVERY", "0"))
_counter = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.answer(body=False)

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer()

    def answer(self, body: bool = True) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/close":
            self.close_connection = True
            return
        if url.path == "/slow":
            seconds = float(urllib.parse.parse_qs(url.query).get("s", ["1"])[0])
            time.sleep(min(max(seconds, 0.0), 30.0))
        text = "ok" if self.path == "/healthz" else f"{MESSAGE} from {socket.gethostname()}"
        status = 200
        if FAIL_EVERY and self.path != "/healthz" and next(_counter) % FAIL_EVERY == 0:
            status, text = 500, f"{MESSAGE} failed"
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Replica", MESSAGE)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        if self.path != "/healthz":
            print(f"{self.command} {self.path}", flush=True)


if not os.environ.get("IGNORE_SIGTERM"):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"listening on {PORT}", flush=True)
http.server.ThreadingHTTPServer(("", PORT), Handler).serve_forever()
