"""Registrars: external catalogs kept in sync with an environment's healthy endpoints.

One small interface (``base.Registrar``: register, deregister, sync, close) and a
backend per module, chosen by the ``kind`` of an entry of the environment file's
``discovery.registrars``:

- ``etcd``: etcd v3 through its JSON gateway; every entry under one lease;
- ``consul``: a Consul agent's HTTP API; one service instance with a TTL check each;
- ``file_sd``: a Prometheus targets file (the environment's ``metrics:``, not listed
  in ``discovery.registrars``).

These modules use only the standard library, httpx and ``dockyard.errors``: the
environment's catalog agent runs them in its container (see
``dockyard.discovery.agent``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from dockyard.discovery.registrars.base import Entry, Registrar, RegistrarError
from dockyard.discovery.registrars.consul import ConsulRegistrar
from dockyard.discovery.registrars.etcd import EtcdRegistrar
from dockyard.discovery.registrars.file_sd import FileSdRegistrar

__all__ = [
    "ConsulRegistrar",
    "Entry",
    "EtcdRegistrar",
    "FileSdRegistrar",
    "Registrar",
    "RegistrarError",
    "registrar_for",
]


def registrar_for(
    config: Mapping[str, Any], environment: str, client: httpx.Client | None = None
) -> Registrar:
    """The registrar an entry of ``discovery.registrars`` names (its JSON form, as
    the spec model dumps it), for ``environment``."""
    kind = config.get("kind")
    endpoints = [str(e) for e in config.get("endpoints") or []]
    ttl = float(config.get("ttl", 5.0))
    if kind == "etcd":
        prefix = str(config.get("prefix", "/dockyard"))
        return EtcdRegistrar(environment, endpoints, prefix=prefix, ttl=ttl, client=client)
    if kind == "consul":
        after = float(config.get("deregister_after", 60.0))
        return ConsulRegistrar(
            environment, endpoints, ttl=ttl, deregister_after=after, client=client
        )
    if kind == "file_sd":
        return FileSdRegistrar(environment, str(config.get("path")))
    raise RegistrarError(
        f"no registrar of kind {kind!r}", hint="discovery.registrars: use etcd or consul"
    )
