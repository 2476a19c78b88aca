"""The ingress of an environment: its image, its service definition, and a client
for Caddy's admin API.

Caddy's admin API listens on a unix socket inside its own container only (two
Caddy generations share one network namespace during an upgrade, so a TCP
address would clash). Dockyard may drive a remote engine (``ssh://``) anyway,
so :class:`IngressClient` reaches the API by running a short python3 program in
the container through the engine (``ContainerAccess.exec``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.engines.access import ContainerAccess
from dockyard.engines.model import BuildRequest
from dockyard.errors import EngineError, EngineUnreachable
from dockyard.plan.ingress import ADMIN_SOCKET, INGRESS_SERVICE

IMAGE_DIR = Path(__file__).parent / "image"
"""The build context of the ingress image (packaged with Dockyard)."""
IMAGE_REPOSITORY = "dockyard/ingress"

ADMIN_TIMEOUT = 30.0
"""Seconds one admin API call may take inside the container."""
MAX_ARGUMENT = 100_000
"""Characters per command-line argument (Linux allows 128 KiB); a request body
longer than that is passed in pieces."""
MAX_BODY = 1_500_000
"""Characters of a request body that still fit on a command line."""
UNREACHABLE = 3
"""Exit code of the admin program when nothing answers on the admin socket."""

_ADMIN_PROGRAM = f"""
import http.client, json, socket, sys
method, path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
body = "".join(sys.argv[4:]).encode()
try:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(timeout)
    sock.connect({ADMIN_SOCKET!r})
except OSError as e:
    print(json.dumps({{"unreachable": str(e)}}))
    sys.exit({UNREACHABLE})
connection = http.client.HTTPConnection("localhost", timeout=timeout)
connection.sock = sock
# Caddy accepts requests on its unix socket with an empty Host only.
connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
connection.putheader("Host", "")
if body:
    connection.putheader("Content-Type", "application/json")
connection.putheader("Content-Length", str(len(body)))
connection.endheaders(body)
response = connection.getresponse()
status, text = response.status, response.read()
print(json.dumps({{"status": status, "body": text.decode("utf-8", "replace")}}))
"""
"""Runs one admin API request in the ingress container and prints the answer as JSON."""


class IngressError(EngineError):
    """The ingress refused a request of its admin API, or answered nonsense."""

    code = "DY320"


class IngressUnavailable(IngressError):
    """Nothing answers on the ingress's admin API (it is starting, or stopped)."""

    code = "DY321"


# ------------------------------------------------------------------- image


def ingress_build(base_image: str) -> BuildRequest:
    """How to build the ingress image ``FROM base_image``. The tag changes with the
    image's files and the base image, so a new Dockyard builds a new image."""
    digest = hashlib.sha256(base_image.encode())
    for path in sorted(p for p in IMAGE_DIR.iterdir() if p.is_file()):
        digest.update(f"\0{path.name}\0".encode())
        digest.update(path.read_bytes())
    return BuildRequest(
        service=INGRESS_SERVICE,
        context=IMAGE_DIR,
        dockerfile="Dockerfile",
        tag=f"{IMAGE_REPOSITORY}:{digest.hexdigest()[:12]}",
        args={"BASE_IMAGE": base_image},
    )


# ------------------------------------------------------------------ client


@dataclass(frozen=True)
class AdminAnswer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


class IngressClient:
    """Caddy's admin API in the ingress container ``container_id``, through ``engine``."""

    def __init__(
        self, engine: ContainerAccess, container_id: str, *, timeout: float = ADMIN_TIMEOUT
    ) -> None:
        self.engine = engine
        self.container_id = container_id
        self.timeout = timeout

    def call(self, method: str, path: str, body: object = None) -> AdminAnswer:
        """One admin API request; ``body`` is sent as JSON. Raises IngressUnavailable
        when nothing answers, IngressError when the answer makes no sense."""
        text = "" if body is None else json.dumps(body, separators=(",", ":"))
        if len(text) > MAX_BODY:
            raise IngressError(
                f"the request to the ingress is too large ({len(text)} characters of JSON; "
                f"at most {MAX_BODY})"
            )
        pieces = [text[i : i + MAX_ARGUMENT] for i in range(0, len(text), MAX_ARGUMENT)]
        argv = ["python3", "-c", _ADMIN_PROGRAM, method, path, str(self.timeout), *pieces]
        code, output = exec_printing(self.engine, self.container_id, argv)
        answer = _last_json_line(output)
        if code == UNREACHABLE and answer is not None and "unreachable" in answer:
            raise IngressUnavailable(
                f"the ingress's admin API does not answer: {answer['unreachable']}",
                hint="The ingress may be starting; check its logs (docker logs).",
            )
        if code != 0 or answer is None or not isinstance(answer.get("status"), int):
            raise IngressError(
                f"cannot reach the ingress's admin API (exit code {code}): {output.strip()[-500:]}",
                hint="The ingress image needs python3; rebuild it from Dockyard's Dockerfile.",
            )
        return AdminAnswer(status=answer["status"], body=str(answer.get("body", "")))

    def load(self, config: Mapping[str, Any]) -> None:
        """Replace Caddy's whole config (``POST /load``); Caddy keeps its listeners,
        so no connection is refused meanwhile."""
        answer = self.call("POST", "/load", config)
        if answer.status != 200:
            raise IngressError(
                f"the ingress refused the new config: {_caddy_message(answer)}",
                hint="The ingress keeps running its previous config; Caddy's message says "
                "what it rejected.",
            )

    def config(self) -> dict[str, Any]:
        """The config Caddy runs (``GET /config/``); empty when it has none."""
        answer = self.call("GET", "/config/")
        if answer.status != 200:
            raise IngressError(f"cannot read the ingress's config: {_caddy_message(answer)}")
        found = _parse(answer)
        return found if isinstance(found, dict) else {}

    def upstreams(self) -> dict[str, int]:
        """Requests in flight per upstream (dial address) of any loaded route,
        including the draining ones (``GET /reverse_proxy/upstreams``)."""
        answer = self.call("GET", "/reverse_proxy/upstreams")
        if answer.status != 200:
            raise IngressError(f"cannot read the ingress's upstreams: {_caddy_message(answer)}")
        found = _parse(answer)
        if not isinstance(found, list):
            return {}
        return {
            str(u["address"]): int(u.get("num_requests") or 0)
            for u in found
            if isinstance(u, dict) and "address" in u
        }

    def wait_drained(self, dials: Iterable[str], timeout: float, poll: float = 0.25) -> bool:
        """Wait until none of ``dials`` has a request in flight; False when ``timeout``
        seconds pass first. A dial Caddy does not list has none: keep draining
        replicas in the table's ``draining`` until this returns."""
        watched = set(dials)
        deadline = time.monotonic() + timeout
        while True:
            counts = self.upstreams()
            if not any(counts.get(d, 0) > 0 for d in watched):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(poll, left))

    def wait_ready(self, timeout: float, poll: float = 0.2) -> None:
        """Wait until the admin API answers; raises IngressUnavailable after ``timeout``
        seconds (with the last reason it did not)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.config()
                return
            except EngineUnreachable:
                raise
            except EngineError as e:  # not answering yet, or the container is restarting
                last = e
            left = deadline - time.monotonic()
            if left <= 0:
                raise IngressUnavailable(
                    f"the ingress's admin API did not answer within {timeout:g}s: {last.message}",
                    hint="Check the ingress container's logs (docker logs).",
                ) from last
            time.sleep(min(poll, left))


LOST_OUTPUT_ATTEMPTS = 3
"""Runs of a command that always prints, when the engine returns none of its output."""


def exec_printing(engine: ContainerAccess, container_id: str, argv: list[str]) -> tuple[int, str]:
    """Run ``argv``, a command that always prints something, in the container. Docker
    (20.10, under load) sometimes reports an exec's exit code 0 with none of its
    output; such a run is repeated, up to LOST_OUTPUT_ATTEMPTS runs in all, so only
    use it for commands that may run twice (reads, and loading the same config)."""
    for _ in range(LOST_OUTPUT_ATTEMPTS - 1):
        code, output = engine.exec(container_id, argv)
        if code != 0 or output.strip():
            return code, output
    return engine.exec(container_id, argv)


def _last_json_line(output: str) -> dict[str, Any] | None:
    for line in reversed(output.strip().splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        return found if isinstance(found, dict) else None
    return None


def _parse(answer: AdminAnswer) -> Any:
    try:
        return answer.json()
    except ValueError as e:
        raise IngressError(f"the ingress answered something that is not JSON: {e}") from e


def _caddy_message(answer: AdminAnswer) -> str:
    """Caddy's own words: its errors come as ``{"error": "..."}``."""
    try:
        found = answer.json()
    except ValueError:
        found = None
    if isinstance(found, dict) and found.get("error"):
        return f"{found['error']} (HTTP {answer.status})"
    return f"HTTP {answer.status}: {answer.body.strip()[:500]}"
