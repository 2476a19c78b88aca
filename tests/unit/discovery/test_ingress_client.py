"""The ingress's service definition and image, and the admin client's handling of
answers. The client runs a program in the container through ``ContainerAccess.exec``; here
a scripted ``exec`` stands in for the engine (tests/engine/test_ingress.py runs
the real one against Caddy)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from dockyard.discovery.caddy import RoutingTable, bootstrap_config, caddy_config
from dockyard.discovery.ingress import (
    MAX_ARGUMENT,
    UNREACHABLE,
    IngressClient,
    IngressError,
    IngressUnavailable,
    ingress_build,
)
from dockyard.engines.access import ContainerAccess
from dockyard.errors import EngineError, SpecError
from dockyard.plan.ingress import (
    ADMIN_SOCKET,
    HOLDER_SERVICE,
    SYSCTLS,
    holder_service,
    ingress_service,
)
from dockyard.plan.model import ContainerDef, TaskDef


class ScriptedExec:
    """Answers ``exec`` calls with ``answer(method, path, body)``; records the calls."""

    def __init__(self, answer: Callable[[str, str, str], tuple[int, str]]) -> None:
        self.answer = answer
        self.calls: list[list[str]] = []

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        self.calls.append(argv)
        method, path, _timeout, *body = argv[3:]
        return self.answer(method, path, "".join(body))


def client(
    answer: Callable[[str, str, str], tuple[int, str]],
) -> tuple[IngressClient, ScriptedExec]:
    scripted = ScriptedExec(answer)
    return IngressClient(cast(ContainerAccess, scripted), "c0ffee"), scripted


def http(status: int, body: object) -> tuple[int, str]:
    text = body if isinstance(body, str) else json.dumps(body)
    return 0, json.dumps({"status": status, "body": text}) + "\n"


def test_the_holder_publishes_the_port_holds_the_aliases_and_sets_the_sysctls() -> None:
    holder = holder_service(
        "staging", "sha256:abc", 8080, "0.0.0.0", {"web": [8000], "api": [9000, 80, 443]}
    )

    assert (holder.name, holder.kind, holder.replicas, holder.task.restart) == (
        "ingress-holder",
        "accessory",
        1,
        "unless-stopped",
    )
    assert holder.task.aliases == ["api", "web"]
    main = holder.task.main
    assert [(p.port, p.publish, p.host_ip) for p in main.ports] == [
        (80, 8080, "0.0.0.0"),
        (443, None, "127.0.0.1"),
        (8000, None, "127.0.0.1"),
        (9000, None, "127.0.0.1"),
    ]
    assert main.sysctls == SYSCTLS
    assert SYSCTLS["net.ipv4.ip_unprivileged_port_start"] == "0"  # Caddy is not root
    assert SYSCTLS["net.ipv4.tcp_migrate_req"] == "1"
    assert main.health is None and main.command is not None
    assert (holder.max_surge, holder.max_unavailable) == (0, 1)  # it publishes a host port


def test_caddy_joins_the_holder_runs_as_caddy_and_rolls_start_first() -> None:
    holder = holder_service("staging", "sha256:abc", 8080, proxied={"web": [8000]})
    caddy = ingress_service("staging", "sha256:def", holder)

    assert (caddy.name, caddy.kind, caddy.depends_on) == ("ingress", "accessory", [HOLDER_SERVICE])
    assert caddy.task.joins == f"staging-ingress-holder-1-{holder.task.spec_hash()[:7]}"
    assert caddy.task.aliases == []
    main = caddy.task.main
    assert (main.image, main.user, main.ports, main.sysctls) == ("sha256:def", "caddy", [], {})
    assert main.health is not None and ADMIN_SOCKET in main.health.test[-1]
    assert (caddy.max_surge, caddy.max_unavailable) == (1, 0)
    # A new image is a new Caddy, not a new holder; a new holder is a new Caddy.
    assert ingress_service("staging", "sha256:new", holder).task.joins == caddy.task.joins
    moved = holder_service("staging", "sha256:abc", 8081, proxied={"web": [8000]})
    assert ingress_service("staging", "sha256:def", moved).task.joins != caddy.task.joins


def test_a_definition_without_joins_keeps_its_hash() -> None:
    task = TaskDef(containers=[ContainerDef(name="web", image="i")])

    assert "joins" not in task.canonical()
    assert '"joins":"x"' in task.model_copy(update={"joins": "x"}).canonical()


def test_the_ingress_refuses_what_would_clash() -> None:
    for name in ("ingress", "ingress-holder"):
        with pytest.raises(SpecError, match="the ingress has that name"):
            holder_service("e", "img", 8080, proxied={name: [8000]})


def test_ingress_build_points_at_the_packaged_dockerfile() -> None:
    request = ingress_build("dockyard/base:bookworm")

    assert (request.context / request.dockerfile).is_file()
    assert request.args == {"BASE_IMAGE": "dockyard/base:bookworm"}
    assert request.tag.startswith("dockyard/ingress:")
    assert request.tag == ingress_build("dockyard/base:bookworm").tag
    assert request.tag != ingress_build("mirror.local/base:bookworm").tag


def test_load_sends_the_config_in_pieces_and_reports_caddys_refusal() -> None:
    seen: list[Any] = []

    def answer(method: str, path: str, body: str) -> tuple[int, str]:
        seen.append((method, path, json.loads(body)))
        return http(400, {"error": "loading new config: http app module: unknown field"})

    ingress, scripted = client(answer)
    config = {"apps": {"http": {"servers": {}}}, "padding": "x" * (2 * MAX_ARGUMENT)}
    with pytest.raises(IngressError, match="unknown field") as raised:
        ingress.load(config)

    assert seen == [("POST", "/load", config)]
    assert len(scripted.calls[0]) == 6 + 3  # python3 -c program method path timeout + 3 pieces
    assert all(len(a) <= MAX_ARGUMENT for a in scripted.calls[0][6:])
    assert "HTTP 400" in raised.value.message


def test_an_admin_api_that_does_not_answer_is_unavailable() -> None:
    unreachable = (UNREACHABLE, json.dumps({"unreachable": "[Errno 111] Connection refused"}))
    ingress, _ = client(lambda *_: unreachable)

    with pytest.raises(IngressUnavailable, match="Connection refused"):
        ingress.config()


def test_a_broken_answer_is_an_error_with_the_output() -> None:
    ingress, _ = client(lambda *_: (127, "exec: python3: not found"))

    with pytest.raises(IngressError, match="python3: not found") as raised:
        ingress.config()
    assert not isinstance(raised.value, IngressUnavailable)


def test_upstreams_maps_dials_to_requests_in_flight() -> None:
    listed = [
        {"address": "a:8000", "num_requests": 2, "fails": 0},
        {"address": "b:8000", "num_requests": 0, "fails": 1},
    ]
    ingress, _ = client(lambda *_: http(200, listed))

    assert ingress.upstreams() == {"a:8000": 2, "b:8000": 0}


def test_wait_drained_polls_until_the_dials_are_idle() -> None:
    counts = iter([{"a:8000": 1, "b:8000": 3}, {"a:8000": 1}, {"b:8000": 3}])

    def answer(*_: str) -> tuple[int, str]:
        now = next(counts)
        return http(200, [{"address": d, "num_requests": n} for d, n in now.items()])

    ingress, scripted = client(answer)

    assert ingress.wait_drained(["a:8000"], timeout=5, poll=0.01)
    assert len(scripted.calls) == 3  # a:8000 busy, busy, then gone


def test_wait_drained_gives_up_at_the_deadline() -> None:
    ingress, _ = client(lambda *_: http(200, [{"address": "a:8000", "num_requests": 1}]))

    assert not ingress.wait_drained(["a:8000"], timeout=0.05, poll=0.01)


def test_wait_ready_retries_until_the_admin_api_answers() -> None:
    answers: Iterator[Exception | tuple[int, str]] = iter(
        [
            EngineError("cannot run python3 in c0ffee: container is restarting"),
            (UNREACHABLE, json.dumps({"unreachable": "refused"})),
            http(200, None),
        ]
    )

    def answer(*_: str) -> tuple[int, str]:
        now = next(answers)
        if isinstance(now, Exception):
            raise now
        return now

    ingress, scripted = client(answer)
    ingress.wait_ready(timeout=5, poll=0.01)
    assert len(scripted.calls) == 3

    never, _ = client(lambda *_: (UNREACHABLE, json.dumps({"unreachable": "refused"})))
    with pytest.raises(IngressUnavailable, match="did not answer within"):
        never.wait_ready(timeout=0.05, poll=0.01)


def test_the_image_starts_from_the_bootstrap_config() -> None:
    request = ingress_build("dockyard/base:bookworm")
    bootstrap = json.loads((request.context / "bootstrap.json").read_text())

    assert bootstrap == bootstrap_config()
    assert caddy_config(RoutingTable())["logging"] == bootstrap["logging"]
    dockerfile = (request.context / request.dockerfile).read_text()
    assert "--resume" in dockerfile and "FROM ${BASE_IMAGE}" in dockerfile
    assert "\nUSER caddy\n" in dockerfile
