"""The etcd registrar against a real etcd (Debian's etcd-server): entries under a
lease, a sync that removes what is gone, a lease that expires when syncs stop, and
a new lease taken when the old one expired."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dockyard.discovery.registrars import Entry, EtcdRegistrar, RegistrarError, registrar_for
from tests.fixtures.etcd import etcd_keys, etcd_server

from .support import wait_for

TTL = 2.0
SLACK = 5.0


@pytest.fixture(scope="module")
def etcd() -> Iterator[str]:
    with etcd_server() as url:
        yield url


def entry(replica: int, env: str = "e1") -> Entry:
    return Entry(
        env, "api", replica, "http", 8000, f"10.0.0.{replica}", routes=("http://api:8000",)
    )


def keys(etcd: str, env: str = "e1") -> set[str]:
    return set(etcd_keys(etcd, f"/dockyard/{env}/"))


def test_sync_holds_exactly_the_entries_and_leaves_other_environments(etcd: str) -> None:
    other = registrar_for({"kind": "etcd", "endpoints": [etcd], "ttl": 30}, "e2")
    other.sync([entry(1, "e2")])
    registrar = registrar_for({"kind": "etcd", "endpoints": [etcd], "ttl": 30}, "e1")
    registrar.sync([entry(1), entry(2)])
    assert keys(etcd) == {"/dockyard/e1/api/1/http", "/dockyard/e1/api/2/http"}
    registrar.sync([entry(2), entry(3)])
    assert keys(etcd) == {"/dockyard/e1/api/2/http", "/dockyard/e1/api/3/http"}
    value = etcd_keys(etcd, "/dockyard/e1/api/3/http")["/dockyard/e1/api/3/http"]
    assert value["address"] == "10.0.0.3" and value["routes"] == ["http://api:8000"]
    registrar.deregister([entry(2)])
    assert keys(etcd) == {"/dockyard/e1/api/3/http"}
    registrar.close()  # revokes the lease: its entries go at once
    assert keys(etcd) == set()
    assert keys(etcd, "e2") == {"/dockyard/e2/api/1/http"}
    other.close()


def test_entries_expire_with_the_lease_and_come_back_under_a_new_one(etcd: str) -> None:
    registrar = EtcdRegistrar("e3", [etcd], ttl=TTL)
    registrar.register([entry(1, "e3")])
    first = registrar.lease
    assert keys(etcd, "e3") == {"/dockyard/e3/api/1/http"}
    wait_for(lambda: keys(etcd, "e3") == set(), timeout=TTL + SLACK, what="the lease to expire")
    registrar.sync([entry(1, "e3")])
    assert registrar.lease != first
    assert keys(etcd, "e3") == {"/dockyard/e3/api/1/http"}
    registrar.close()


def test_a_second_endpoint_is_tried_when_the_first_does_not_answer(etcd: str) -> None:
    registrar = EtcdRegistrar("e4", ["http://127.0.0.1:9", etcd], ttl=30)
    registrar.sync([entry(1, "e4")])
    assert keys(etcd, "e4") == {"/dockyard/e4/api/1/http"}
    registrar.close()


def test_no_answer_is_a_registrar_error() -> None:
    with pytest.raises(RegistrarError, match="no etcd endpoint answered") as info:
        EtcdRegistrar("e5", ["http://127.0.0.1:9"]).sync([])
    assert info.value.code == "DY330" and info.value.hint
