"""The Consul registrar's requests, against a local stub HTTP server.

No Consul binary can be had on these machines, so this checks request shapes
only: the methods, paths and bodies the registrar sends (as Consul's agent HTTP
API documents them) and that a sync registers, renews and deregisters what it
should. It does not show that a real Consul accepts them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dockyard.discovery.registrars import ConsulRegistrar, Entry, RegistrarError, registrar_for


class Stub(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, str, Any]] = []
        self.services: dict[str, dict[str, Any]] = {}
        self.refuse = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Stub

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: object = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path, None))
        if self.path == "/v1/agent/services":
            return self._answer(200, self.server.services)
        self._answer(404)

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append(("PUT", self.path, body))
        if self.server.refuse:
            return self._answer(403, "Permission denied")
        if self.path == "/v1/agent/service/register":
            self.server.services[body["ID"]] = {
                "ID": body["ID"],
                "Service": body["Name"],
                "Address": body["Address"],
                "Port": body["Port"],
                "Meta": body["Meta"],
            }
        elif self.path.startswith("/v1/agent/service/deregister/"):
            self.server.services.pop(self.path.rsplit("/", 1)[1], None)
        self._answer(200)


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def entry(replica: int, address: str = "10.0.0.2") -> Entry:
    return Entry("prod", "api", replica, "http", 8000, address, f"prod-api-{replica}-abc")


def test_register_sends_an_instance_with_a_ttl_check(stub: Stub) -> None:
    registrar = registrar_for({"kind": "consul", "endpoints": [stub.url], "ttl": 5}, "prod")
    registrar.register([entry(1)])
    ((method, path, body),) = stub.requests
    assert (method, path) == ("PUT", "/v1/agent/service/register")
    assert body == {
        "ID": "dockyard-prod-api-1-http",
        "Name": "api",
        "Tags": ["dockyard", "env=prod", "port=http"],
        "Address": "10.0.0.2",
        "Port": 8000,
        "Meta": {
            "dockyard_env": "prod",
            "dockyard_replica": "1",
            "dockyard_task": "prod-api-1-abc",
            "dockyard_port": "http",
        },
        "Check": {
            "CheckID": "dockyard-prod-api-1-http:ttl",
            "Name": "Dockyard health",
            "TTL": "5s",
            "Status": "passing",
            "DeregisterCriticalServiceAfter": "60s",
        },
    }


def test_sync_registers_new_renews_kept_and_deregisters_gone(stub: Stub) -> None:
    registrar = ConsulRegistrar("prod", [stub.url], ttl=5)
    stub.services["other"] = {"ID": "other", "Meta": {"dockyard_env": "staging"}}
    registrar.sync([entry(1), entry(2)])
    stub.requests.clear()
    registrar.sync([entry(1), entry(3)])
    assert stub.requests == [
        ("GET", "/v1/agent/services", None),
        ("PUT", "/v1/agent/check/pass/dockyard-prod-api-1-http:ttl", None),
        ("PUT", "/v1/agent/service/register", registrar.registration(entry(3))),
        ("PUT", "/v1/agent/service/deregister/dockyard-prod-api-2-http", None),
    ]
    assert set(stub.services) == {"other", "dockyard-prod-api-1-http", "dockyard-prod-api-3-http"}


def test_a_moved_replica_is_registered_again(stub: Stub) -> None:
    registrar = ConsulRegistrar("prod", [stub.url])
    registrar.sync([entry(1)])
    stub.requests.clear()
    registrar.sync([entry(1, address="10.0.0.9")])
    assert [p for _, p, _ in stub.requests] == [
        "/v1/agent/services",
        "/v1/agent/service/register",
    ]
    assert stub.services["dockyard-prod-api-1-http"]["Address"] == "10.0.0.9"


def test_deregister_removes_by_id(stub: Stub) -> None:
    registrar = ConsulRegistrar("prod", [stub.url])
    registrar.deregister([entry(2)])
    assert stub.requests == [("PUT", "/v1/agent/service/deregister/dockyard-prod-api-2-http", None)]


def test_a_refusal_and_no_answer_are_registrar_errors(stub: Stub) -> None:
    stub.refuse = True
    with pytest.raises(RegistrarError, match="HTTP 403") as refused:
        ConsulRegistrar("prod", [stub.url]).register([entry(1)])
    assert refused.value.code == "DY330" and refused.value.hint
    with pytest.raises(RegistrarError, match="no consul agent answered"):
        ConsulRegistrar("prod", ["http://127.0.0.1:9"]).sync([])


def test_deregistration_after_is_never_below_consuls_minute() -> None:
    assert ConsulRegistrar("prod", ["http://x"], deregister_after=5).deregister_after == 60
