"""The ingress's Caddy config as data: servers, route order, host matching, 503s, draining.

``handler_for`` follows Caddy's matching rules for the matchers the config uses
(host without the request's port, path patterns, vars) so that the cases read
as requests; tests/engine/test_ingress.py checks the same against a real Caddy.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dockyard.discovery.caddy import (
    ADMIN_LISTEN,
    HealthProbe,
    ProxiedService,
    PublicRoute,
    RoutingTable,
    caddy_config,
    path_patterns,
)
from dockyard.discovery.traffic import TRAFFIC_LOG


def handler_for(config: dict[str, Any], port: int, host: str, path: str) -> dict[str, Any]:
    """The first handler of the server listening on ``port`` whose route matches."""
    servers = config["apps"]["http"]["servers"].values()
    server = next(s for s in servers if s["listen"] == [f":{port}"])
    for route in server["routes"]:
        matchers = route.get("match")
        if matchers is None or any(_matches(m, host, path) for m in matchers):
            handler: dict[str, Any] = route["handle"][0]
            return handler
    raise AssertionError("no route matched, not even the fallback")


def _matches(matcher: dict[str, Any], host: str, path: str) -> bool:
    bare = host.rsplit(":", 1)[0].lower()  # Caddy's host matcher ignores the port
    if "host" in matcher and bare not in [h.lower() for h in matcher["host"]]:
        return False
    if "path" in matcher and not any(
        path.startswith(p[:-1]) if p.endswith("*") else path == p for p in matcher["path"]
    ):
        return False
    return "vars" not in matcher  # no handler sets a variable


def dials(handler: dict[str, Any]) -> list[str]:
    assert handler["handler"] == "reverse_proxy", handler
    return [u["dial"] for u in handler["upstreams"]]


WEB = ProxiedService(name="web", upstreams={8000: ["t-web-1-abc:8000", "t-web-2-abc:8000"]})
API = ProxiedService(name="api", upstreams={8000: ["t-api-1-def:8000"], 9090: ["t-api-1-def:9090"]})


def test_a_server_per_proxied_port_and_one_for_the_public_routes() -> None:
    config = caddy_config(RoutingTable(services=[WEB, API]))

    servers = config["apps"]["http"]["servers"]
    assert {name: s["listen"] for name, s in servers.items()} == {
        "port-8000": [":8000"],
        "port-9090": [":9090"],
        "public": [":80"],
    }
    assert all(s["automatic_https"] == {"disable": True} for s in servers.values())
    assert config["admin"] == {"listen": ADMIN_LISTEN, "config": {"persist": True}}
    assert ADMIN_LISTEN.startswith("unix//")  # in the Caddy container's own file system
    logs = config["logging"]["logs"]
    assert logs["default"]["level"] == "WARN"  # the admin API logs every request at INFO
    assert logs["access"]["writer"] == {"output": "stdout"}
    assert logs["traffic"]["writer"]["filename"] == TRAFFIC_LOG
    assert servers["public"]["logs"] == {}  # the public server's access log is on
    assert "logs" not in servers["port-8000"]


def test_the_traffic_log_can_be_left_off() -> None:
    config = caddy_config(RoutingTable(services=[WEB, API]), traffic=False)

    assert set(config["logging"]["logs"]) == {"default", "access"}


@pytest.mark.parametrize("host", ["web", "web:8000", "WEB:8000"])
def test_a_proxied_port_picks_the_service_by_host_with_or_without_the_port(host: str) -> None:
    config = caddy_config(RoutingTable(services=[WEB, API]))

    assert dials(handler_for(config, 8000, host, "/any")) == WEB.upstreams[8000]


def test_services_on_the_same_port_are_told_apart_by_host() -> None:
    config = caddy_config(RoutingTable(services=[WEB, API]))

    assert dials(handler_for(config, 8000, "api:8000", "/")) == ["t-api-1-def:8000"]
    assert dials(handler_for(config, 8000, "web", "/")) == WEB.upstreams[8000]
    assert dials(handler_for(config, 9090, "api:9090", "/metrics")) == ["t-api-1-def:9090"]
    unknown = handler_for(config, 8000, "db:8000", "/")
    assert (unknown["handler"], unknown["status_code"]) == ("static_response", 404)
    # web does not listen on 9090
    assert handler_for(config, 9090, "web:9090", "/")["status_code"] == 404


def test_public_routes_longest_path_first_then_named_hosts_then_404() -> None:
    table = RoutingTable(
        services=[WEB, API],
        routes=[
            PublicRoute(service="web", port=8000),
            PublicRoute(service="api", port=8000, path="/api"),
            PublicRoute(service="api", port=9090, host="admin.local"),
            PublicRoute(service="web", port=8000, path="/api/v2", host="shop.local"),
        ],
    )
    config = caddy_config(table)

    routes = config["apps"]["http"]["servers"]["public"]["routes"]
    assert [r.get("match") for r in routes] == [
        [{"host": ["shop.local"], "path": ["/api/v2", "/api/v2/*"]}],
        [{"path": ["/api", "/api/*"]}],
        [{"host": ["admin.local"]}],
        None,  # "/" on any host
        None,  # the 404 fallback
    ]
    assert routes[-1]["handle"][0]["status_code"] == 404

    def to(host: str, path: str) -> list[str]:
        return dials(handler_for(config, 80, host, path))

    assert to("shop.local", "/api/v2/orders") == WEB.upstreams[8000]
    assert to("other.local:8080", "/api/v2/orders") == ["t-api-1-def:8000"]
    assert to("shop.local", "/api") == ["t-api-1-def:8000"]
    assert to("shop.local", "/apis") == WEB.upstreams[8000]  # prefixes end at a segment
    assert to("admin.local:8443", "/") == ["t-api-1-def:9090"]
    assert to("anything", "/") == WEB.upstreams[8000]


def test_without_a_route_for_every_path_the_rest_is_a_404() -> None:
    table = RoutingTable(
        services=[WEB], routes=[PublicRoute(service="web", port=8000, path="/app")]
    )
    config = caddy_config(table)

    assert dials(handler_for(config, 80, "x", "/app/1")) == WEB.upstreams[8000]
    assert handler_for(config, 80, "x", "/")["status_code"] == 404


def test_path_patterns() -> None:
    assert path_patterns("/") is None
    assert path_patterns("/api") == ["/api", "/api/*"]
    assert path_patterns("/static/") == ["/static/*"]


def test_no_healthy_replica_is_a_503_that_says_so() -> None:
    empty = ProxiedService(name="web", upstreams={8000: []})
    table = RoutingTable(services=[empty], routes=[PublicRoute(service="web", port=8000)])
    config = caddy_config(table)

    for handler in (handler_for(config, 8000, "web", "/"), handler_for(config, 80, "x", "/")):
        assert handler["handler"] == "static_response"
        assert handler["status_code"] == 503
        assert handler["body"] == "no healthy replica of web answers on port 8000\n"
        assert handler["headers"]["Retry-After"] == ["1"]


def test_the_proxy_retries_instead_of_ejecting_replicas_passively() -> None:
    config = caddy_config(RoutingTable(services=[WEB]))
    proxy = handler_for(config, 8000, "web", "/")

    balancing = proxy["load_balancing"]
    assert balancing["try_duration"] == "5s"
    assert balancing["try_interval"] == "250ms"
    # A request that broke off after it reached a replica is sent again for the
    # safe methods only; one whose connection failed, always (Caddy's rule).
    assert balancing["retry_match"] == [{"method": ["GET", "HEAD", "OPTIONS"]}]
    # Caddy 2.6's passive check ejects a replica for a request that broke off as
    # for a refused connection: there is none, and without a probe no check at all.
    assert "health_checks" not in proxy
    # An explicit flush_interval of -1 makes Caddy 2.6 cancel requests in flight on
    # every config load; its own detection already flushes streams at once.
    assert "flush_interval" not in proxy


def test_a_service_with_an_http_health_check_is_probed_by_the_ingress_too() -> None:
    probe = HealthProbe(path="/healthz", port=8000, interval=1.0, timeout=0.5)
    web = WEB.model_copy(update={"health": probe})
    table = RoutingTable(services=[web], routes=[PublicRoute(service="web", port=8000)])
    config = caddy_config(table)

    for host in ("web", "shop.local"):
        checks = handler_for(config, 8000 if host == "web" else 80, host, "/")["health_checks"]
        assert checks["active"] == {
            "uri": "/healthz",
            "port": 8000,
            "interval": "1s",
            "timeout": "0.5s",
        }
        assert "passive" not in checks
    # Taking replicas out keeps the probe.
    assert table.drain(web.upstreams[8000][:1]).services[0].health == probe


def test_a_service_on_the_public_port_shares_its_server() -> None:
    site = ProxiedService(name="site", upstreams={80: ["t-site-1-abc:80"]})
    table = RoutingTable(services=[site, WEB], routes=[PublicRoute(service="web", port=8000)])
    config = caddy_config(table)

    assert list(config["apps"]["http"]["servers"]) == ["port-8000", "public"]
    assert dials(handler_for(config, 80, "site", "/")) == ["t-site-1-abc:80"]
    assert dials(handler_for(config, 80, "shop.local", "/")) == WEB.upstreams[8000]


def test_draining_upstreams_stay_named_but_get_no_request() -> None:
    table = RoutingTable(services=[WEB], routes=[PublicRoute(service="web", port=8000)])
    drained = table.drain(["t-web-1-abc:8000"])

    assert drained.upstreams("web", 8000) == ["t-web-2-abc:8000"]
    assert drained.draining == ["t-web-1-abc:8000"]
    config = caddy_config(drained)
    public = config["apps"]["http"]["servers"]["public"]["routes"]
    named = [d for r in public for h in r["handle"] if "upstreams" in h for d in dials(h)]
    assert "t-web-1-abc:8000" in named
    for port, host in ((80, "web"), (8000, "web")):
        assert dials(handler_for(config, port, host, "/")) == ["t-web-2-abc:8000"]

    assert drained.forget(["t-web-1-abc:8000"]).draining == []
    back = drained.with_upstreams("web", 8000, ["t-web-1-abc:8000"])
    assert (back.upstreams("web", 8000), back.draining) == (["t-web-1-abc:8000"], [])


def test_with_upstreams_adds_a_service_or_a_port() -> None:
    table = RoutingTable().with_upstreams("web", 8000, ["a:8000"]).with_upstreams("web", 9000, [])

    assert table.services == [ProxiedService(name="web", upstreams={8000: ["a:8000"], 9000: []})]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"services": [], "routes": [{"service": "web", "port": 8000}]},
            "does not proxy",
        ),
        (
            {
                "services": [{"name": "web", "upstreams": {8000: []}}],
                "routes": [{"service": "web", "port": 9000}],
            },
            "does not proxy",
        ),
        ({"services": [{"name": "web", "upstreams": {0: []}}]}, "from 1 to 65535"),
        ({"services": [{"name": "web"}, {"name": "web"}]}, "listed twice"),
        (
            {
                "services": [{"name": "web", "upstreams": {8000: ["a:8000"]}}],
                "draining": ["a:8000"],
            },
            "live and draining",
        ),
        ({"routes": [{"service": "web", "port": 8000, "path": "api"}]}, "must start with '/'"),
    ],
)
def test_invalid_tables_are_refused(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RoutingTable.model_validate(table)
