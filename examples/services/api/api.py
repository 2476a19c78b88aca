"""Items API: a small JSON API over Postgres.

    GET  /healthz              200 when the database answers, 503 otherwise
    GET  /items[?status=new]   every item, oldest first
    GET  /items/<id>           one item
    POST /items                {"name": "..."} -> the new item (201)
    POST /items/<id>/process   marks the item processed -> the item

An item is {"id", "name", "status": "new" | "processed", "processed": bool,
"created_at", "processed_at"}.

The database is reached through the usual libpq variables (PGHOST, PGUSER,
PGDATABASE...), the password read from the file PGPASSWORD_FILE names (a
secret under /run/secrets). With WORKER_TOKEN_FILE, marking an item processed
takes `Authorization: Bearer <the token in that file>`. The API does not change the schema: the `migrate`
task (migrate.py, migrations/) does, before any replica of a release starts.
Every query names its columns, so this code keeps working while a later
release's migration adds columns it does not know (see docs/migrations.md).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg2
import psycopg2.errors
import psycopg2.extras
import psycopg2.pool

log = logging.getLogger("api")

# What a query raises when the schema lacks a table or column this code uses.
SCHEMA_BEHIND = (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn)
COLUMNS = "id, name, status, created_at, processed_at"
MAX_NAME = 200
HOSTNAME = socket.gethostname()


class Database:
    """A small pool of connections.

    A request waits for a free connection (up to ``wait`` seconds) rather than
    failing when all are busy; a connection that saw an error is closed, not
    reused, so a restarted database is picked up by the next request.
    """

    def __init__(self, size: int, wait: float = 5.0) -> None:
        self._pool = psycopg2.pool.ThreadedConnectionPool(0, size, connect_timeout=3)
        self._slots = threading.BoundedSemaphore(size)
        self._wait = wait

    @contextmanager
    def cursor(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        """A cursor in a transaction, committed when the block ends without error."""
        if not self._slots.acquire(timeout=self._wait):
            raise psycopg2.OperationalError("all database connections are busy")
        try:
            conn = self._pool.getconn()
            ok = False
            try:
                with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield cur
                ok = True
            finally:
                self._pool.putconn(conn, close=not ok or conn.closed != 0)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._pool.closeall()


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    item = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
    item["processed"] = row["status"] == "processed"
    return item


class Handler(BaseHTTPRequestHandler):
    server_version = "items-api/1"
    db: Database  # set on the class by main()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        routes: list[tuple[str, str, Callable[..., None]]] = [
            ("GET", r"/healthz", self.healthz),
            ("GET", r"/items", self.list_items),
            ("POST", r"/items", self.create_item),
            ("GET", r"/items/(\d+)", self.get_item),
            ("POST", r"/items/(\d+)/process", self.process_item),
        ]
        allowed = False
        for verb, pattern, action in routes:
            match = re.fullmatch(pattern, url.path)
            if match:
                allowed = True
                if verb == method:
                    try:
                        action(*match.groups(), query=parse_qs(url.query))
                    except SCHEMA_BEHIND as exc:
                        # The schema is older than this code: its migration has not run.
                        log.error("%s %s: schema not migrated: %s", method, url.path, exc)
                        self.send_json(500, {"error": "database schema not migrated"})
                    except psycopg2.Error as exc:
                        log.warning("%s %s: database error: %s", method, url.path, exc)
                        self.send_json(503, {"error": "database unavailable"})
                    return
        if allowed:
            self.send_json(405, {"error": f"{method} not allowed on {url.path}"})
        else:
            self.send_json(404, {"error": f"no route for {url.path}"})

    # -- routes --------------------------------------------------------------

    def healthz(self, query: dict[str, list[str]]) -> None:
        try:
            with self.db.cursor() as cur:
                cur.execute("SELECT 1")
        except psycopg2.Error as exc:
            self.send_json(503, {"status": "unavailable", "error": str(exc).strip()})
            return
        self.send_json(200, {"status": "ok"})

    def list_items(self, query: dict[str, list[str]]) -> None:
        status = query.get("status", [None])[0]
        with self.db.cursor() as cur:
            if status:
                cur.execute(f"SELECT {COLUMNS} FROM items WHERE status = %s ORDER BY id", (status,))
            else:
                cur.execute(f"SELECT {COLUMNS} FROM items ORDER BY id")
            rows = cur.fetchall()
        self.send_json(200, [as_json(r) for r in rows])

    def get_item(self, item_id: str, query: dict[str, list[str]]) -> None:
        with self.db.cursor() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM items WHERE id = %s", (int(item_id),))
            row = cur.fetchone()
        if row is None:
            self.send_json(404, {"error": f"no item {item_id}"})
        else:
            self.send_json(200, as_json(row))

    def create_item(self, query: dict[str, list[str]]) -> None:
        body = self.read_json()
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            self.send_json(400, {"error": f'expected {{"name": "..."}}, 1-{MAX_NAME} chars'})
            return
        with self.db.cursor() as cur:
            cur.execute(
                f"INSERT INTO items (name) VALUES (%s) RETURNING {COLUMNS}", (name.strip(),)
            )
            row = cur.fetchone()
        log.info("created item %s", row["id"])
        self.send_json(201, as_json(row))

    def process_item(self, item_id: str, query: dict[str, list[str]]) -> None:
        if not self.authorized():
            self.send_json(401, {"error": "a worker's token is needed"})
            return
        with self.db.cursor() as cur:
            cur.execute(
                f"UPDATE items SET status = 'processed', processed_at = now() "
                f"WHERE id = %s AND status <> 'processed' RETURNING {COLUMNS}",
                (int(item_id),),
            )
            row = cur.fetchone()
            if row is not None:
                log.info("processed item %s", item_id)
            else:  # already processed, or no such item
                cur.execute(f"SELECT {COLUMNS} FROM items WHERE id = %s", (int(item_id),))
                row = cur.fetchone()
        if row is None:
            self.send_json(404, {"error": f"no item {item_id}"})
        else:
            self.send_json(200, as_json(row))

    # -- plumbing ------------------------------------------------------------

    def authorized(self) -> bool:
        """Whether the request carries the workers' token (always, without one)."""
        token = WORKER_TOKEN
        if token is None:
            return True
        given = self.headers.get("Authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), token.encode())

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", HOSTNAME)
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.path != "/healthz":
            log.info("%s %s %s", self.command, self.path, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.warning("%s - %s", self.address_string(), format % args)


def read_secret(variable: str) -> str | None:
    """The secret in the file the environment variable ``variable`` names."""
    path = os.environ.get(variable)
    if not path:
        return None
    with open(path, encoding="utf-8") as file:
        return file.read().strip()


WORKER_TOKEN: str | None = None


def main() -> int:
    global WORKER_TOKEN
    # libpq reads PGPASSWORD from this process's environment; it is never in the
    # container's (which `docker inspect` shows).
    password = read_secret("PGPASSWORD_FILE")
    if password is not None:
        os.environ["PGPASSWORD"] = password
    WORKER_TOKEN = read_secret("WORKER_TOKEN_FILE")
    logging.basicConfig(
        stream=sys.stdout,
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    port = int(os.environ.get("PORT", "8000"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    # Connections are opened on demand: /healthz answers 503 until the database does.
    db = Database(size=int(os.environ.get("DB_POOL_SIZE", "8")))
    Handler.db = db
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = False  # server_close() waits for requests in flight
    thread = threading.Thread(target=server.serve_forever, name="http")
    thread.start()
    log.info("listening on :%d", port)

    stop.wait()
    log.info("stopping")
    server.shutdown()
    server.server_close()
    thread.join()
    db.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
