"""Waiting until the ingress serves every proxied service again, before a
release's after-deploy tasks (its smoke tests) run.

A replica can be healthy to the engine and out of the ingress's rotation: when a
stop-first accessory (a database) is replaced, the services that use it fail a
probe or two meanwhile. The engine's check, with its retries, lets that pass;
Caddy's own probe takes a replica out at its first failure and back at its next
success. A smoke test run in between meets "no healthy replica" at the ingress
and reverts a release that did nothing wrong. So, before those tasks, each
proxied service with an HTTP health check is asked for it through the ingress
(from inside Caddy's container, with the service's name as Host) until it
answers 2xx or 3xx, for up to the service's ``health_timeout``.
"""

from __future__ import annotations

import time
from typing import Protocol

from dockyard.deploy.routing import Router
from dockyard.discovery.ingress import exec_printing
from dockyard.engines.access import ContainerAccess
from dockyard.engines.environment import Environments
from dockyard.errors import DockyardError
from dockyard.events import Event, Reporter
from dockyard.plan.model import DesiredState, ProxyDef

POLL = 0.5
"""Seconds between two asks of one service."""
ASK_TIMEOUT = 10.0
"""Seconds one ask may take (the ingress holds a request up to its try duration,
5 s, while it has no replica in rotation)."""

_ASK_PROGRAM = """
import sys, urllib.error, urllib.request
url, host, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
request = urllib.request.Request(url, headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=timeout) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print(0, type(e).__name__)
"""
"""Prints the status the ingress answered ``url`` with (0 for none)."""


class ServingEngine(Environments, ContainerAccess, Protocol):
    """What asking through the ingress needs: what runs, and a way into Caddy's container."""


def wait_serving(engine: ServingEngine, desired: DesiredState, report: Reporter) -> list[str]:
    """Wait until the ingress answers each proxied service's health check (see the
    module's docstring); the services it still did not answer in time (none when
    every one answered, or when there is no ingress or nothing to ask)."""
    if desired.ingress is None:
        return []
    actual = engine.observe(desired.environment)
    asked = [
        (proxy, port)
        for proxy in desired.ingress.proxied
        if (port := _health_port(proxy)) is not None
        and any(t.running for t in actual.tasks_of(proxy.service))
    ]
    if not asked:
        return []
    router = Router(engine, desired, report)
    try:
        router.attach(actual, wait=False)
    except DockyardError:
        return []  # no ingress runs: nothing to ask (the tasks find out for themselves)
    assert router.client is not None
    caddy = router.client.container_id
    late = []
    for proxy, port in asked:
        url = f"http://127.0.0.1:{port}{proxy.health_path}"
        timeout = desired.service(proxy.service).health_timeout
        if not _answers(engine, caddy, url, proxy.service, timeout, report):
            late.append(proxy.service)
    return late


def _health_port(proxy: ProxyDef) -> int | None:
    """The proxied port the service's health check is served on; None when it has
    no HTTP check, or serves it on a port the ingress does not proxy."""
    if proxy.health_path is None:
        return None
    port = proxy.health_port if proxy.health_port is not None else proxy.ports[0]
    return port if port in proxy.ports else None


def _answers(
    engine: ServingEngine, caddy: str, url: str, service: str, timeout: float, report: Reporter
) -> bool:
    deadline = time.monotonic() + timeout
    said = False
    while True:
        argv = ["python3", "-c", _ASK_PROGRAM, url, service, str(ASK_TIMEOUT)]
        try:
            _, output = exec_printing(engine, caddy, argv)
            status = int(output.split()[0]) if output.split() else 0
        except (DockyardError, ValueError):
            status = 0
        if 200 <= status < 400:
            return True
        if time.monotonic() >= deadline:
            return False
        if not said:
            report(Event("phase", service, f"waiting for the ingress to serve {service} again"))
            said = True
        time.sleep(POLL)
