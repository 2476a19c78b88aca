"""etcd v3 through its JSON gateway (``/v3/...``; keys and values in base64).

Every entry of the environment is a key ``<prefix>/<environment>/<service>/<replica>/<port>``
whose value is the entry as JSON, put under one lease of ``ttl`` seconds that each
``sync`` renews (``/v3/lease/keepalive``). A replica that stops being healthy is
deleted at the next sync; when syncs stop (the agent is gone), the lease expires
and etcd deletes every entry by itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import httpx

from dockyard.discovery.registrars.base import Entry, RegistrarError

TIMEOUT = 2.0
"""Seconds one request to etcd may take."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _text(b64: str) -> str:
    return base64.b64decode(b64).decode()


def range_end(prefix: str) -> str:
    """The end of the key range holding every key that starts with ``prefix``."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return raw.decode()


class EtcdRegistrar:
    kind = "etcd"

    def __init__(
        self,
        environment: str,
        endpoints: Sequence[str],
        *,
        prefix: str = "/dockyard",
        ttl: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not endpoints:
            raise RegistrarError("an etcd registrar needs at least one endpoint")
        self.environment = environment
        self.endpoints = list(endpoints)
        self.root = f"{prefix.rstrip('/')}/{environment}/"
        self.ttl = max(2, round(ttl))
        self.client = client or httpx.Client(timeout=TIMEOUT)
        self.lease: int | None = None

    # -------------------------------------------------------------- interface

    def register(self, entries: Sequence[Entry]) -> None:
        lease = self._lease()
        for entry in entries:
            self._put(entry, lease)

    def deregister(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self._call("/v3/kv/deleterange", {"key": _b64(self.root + entry.key)})

    def sync(self, entries: Sequence[Entry]) -> None:
        lease = self._lease()
        held = self.held()
        wanted = {self.root + e.key: e for e in entries}
        for key, entry in wanted.items():
            if held.get(key) != (entry.encoded(), lease):
                self._put(entry, lease)
        for key in held.keys() - wanted.keys():
            self._call("/v3/kv/deleterange", {"key": _b64(key)})

    def close(self) -> None:
        """Revoke the lease (its entries go at once) and close the connection."""
        try:
            if self.lease is not None:
                self._call("/v3/lease/revoke", {"ID": str(self.lease)})
                self.lease = None
        finally:
            self.client.close()

    # ------------------------------------------------------------------ reads

    def held(self) -> dict[str, tuple[str, int]]:
        """What etcd holds for the environment: key -> (value, lease)."""
        answer = self._call(
            "/v3/kv/range", {"key": _b64(self.root), "range_end": _b64(range_end(self.root))}
        )
        return {
            _text(kv["key"]): (_text(kv.get("value", "")), int(kv.get("lease", 0)))
            for kv in answer.get("kvs") or []
        }

    # -------------------------------------------------------------- internals

    def _lease(self) -> int:
        """The lease, renewed; a new one when it expired (the agent stalled)."""
        if self.lease is not None:
            answer = self._call("/v3/lease/keepalive", {"ID": str(self.lease)})
            result = answer.get("result", answer)
            if int(result.get("TTL", 0)) > 0:
                return self.lease
        answer = self._call("/v3/lease/grant", {"TTL": str(self.ttl)})
        self.lease = int(answer["ID"])
        return self.lease

    def _put(self, entry: Entry, lease: int) -> None:
        body = {
            "key": _b64(self.root + entry.key),
            "value": _b64(entry.encoded()),
            "lease": str(lease),
        }
        self._call("/v3/kv/put", body)

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        failures = []
        for endpoint in self.endpoints:
            try:
                response = self.client.post(endpoint + path, content=json.dumps(body))
            except httpx.HTTPError as e:
                failures.append(f"{endpoint}: {e}")
                continue
            return _answer(endpoint + path, response)
        raise RegistrarError(
            f"no etcd endpoint answered {path}: {'; '.join(failures)}",
            hint="check that etcd runs and that discovery.registrars[].endpoints reach it",
        )


def _answer(url: str, response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200 or not isinstance(data, dict) or "error" in data:
        said = data.get("message") or data.get("error") if isinstance(data, dict) else None
        raise RegistrarError(
            f"etcd refused {url}: HTTP {response.status_code} {said or response.text[:200]}",
            hint="etcd 3.4 or newer serves the v3 JSON gateway on its client URL",
        )
    return data
