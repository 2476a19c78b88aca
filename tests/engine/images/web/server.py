"""A tiny HTTP server for the engine tests.

GET / answers "<MESSAGE> from <hostname>"; GET /healthz answers "ok"; GET
/slow?s=<seconds> answers like / after that many seconds (at most 30), to hold a
request in flight. It listens on $PORT and exits at once on SIGTERM (as PID 1 it
would otherwise ignore it).
"""

import http.server
import os
import signal
import socket
import sys
import time
import urllib.parse

PORT = int(os.environ.get("PORT", "8000"))
MESSAGE = os.environ.get("MESSAGE", "hello")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/slow":
            seconds = float(urllib.parse.parse_qs(url.query).get("s", ["1"])[0])
            time.sleep(min(max(seconds, 0.0), 30.0))
        text = "ok" if self.path == "/healthz" else f"{MESSAGE} from {socket.gethostname()}"
        body = (text + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        if self.path != "/healthz":
            print(f"{self.command} {self.path}", flush=True)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"listening on {PORT}", flush=True)
http.server.ThreadingHTTPServer(("", PORT), Handler).serve_forever()
