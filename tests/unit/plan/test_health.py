"""Health checks: what a spec's check becomes, how its definition is hashed, and
how a plan shows a change to it (as the spec's fields, not the probe's script)."""

from __future__ import annotations

import json

import pytest

from dockyard.plan import plan
from dockyard.plan.containers import health_def
from dockyard.plan.model import (
    ActualState,
    ContainerDef,
    DesiredState,
    HealthDef,
    PortDef,
    ServiceDef,
    TaskDef,
)
from dockyard.plan.probes import NO_TOOL_EXIT
from dockyard.spec.models import Health
from tests.unit.plan.states import running

PORTS = [PortDef(name="http", port=8000)]


def service(health: HealthDef | None) -> ServiceDef:
    main = ContainerDef(name="api", image="sha256:a", ports=PORTS, health=health)
    return ServiceDef(name="api", task=TaskDef(containers=[main]))


def changes(old: ServiceDef, new: ServiceDef) -> list[tuple[str, object, object]]:
    desired = DesiredState(environment="t", network="dockyard-t", services=[new])
    actual = ActualState(environment="t", network="dockyard-t", tasks=[running(old)])
    (step,) = plan(desired, actual).changes
    assert step.action == "replace"
    return [(c.path, c.old, c.new) for c in step.changes]


def test_an_http_check_keeps_the_spec_fields_beside_its_probe() -> None:
    made = health_def(Health(http="/healthz", port="http", interval=1, timeout=3), PORTS)
    assert (made.http, made.port, made.tcp, made.command) == ("/healthz", 8000, False, None)
    assert made.test[0] == "CMD-SHELL"
    script = made.test[1]
    assert "u=http://127.0.0.1:8000/healthz" in script
    assert "command -v curl" in script and "command -v wget" in script
    assert "-m 3" in script  # the tools' own timeout is the check's
    # One tool is chosen, not tried one after the other.
    assert "||" not in script
    assert f"exit {NO_TOOL_EXIT}" in script


def test_a_tcp_check_and_a_command() -> None:
    tcp = health_def(Health(tcp=True, port=8000), PORTS)
    assert (tcp.tcp, tcp.port, tcp.http) == (True, 8000, None)
    assert "nc -z -w 2 127.0.0.1 8000" in tcp.test[1]
    assert "||" not in tcp.test[1]
    command = health_def(Health(command=["pg_isready", "-q"]), PORTS)
    assert command.test == ["CMD", "pg_isready", "-q"]
    assert (command.command, command.port, command.tcp) == (["pg_isready", "-q"], None, False)


def test_a_definition_without_the_spec_fields_keeps_its_hash() -> None:
    """Built-in checks (the ingress's, the supervisor's) and definitions written
    before the spec's fields were kept hash as they did."""
    bare = HealthDef(test=["CMD", "true"], interval=1, timeout=1, retries=3, start_period=0)
    assert set(bare.canonical()) == {"test", "interval", "timeout", "retries", "start_period"}
    task = service(bare).task
    assert json.loads(task.canonical())["containers"][0]["health"] == bare.canonical()
    assert TaskDef.model_validate_json(task.canonical()) == task


def test_a_changed_path_shows_as_the_spec_field() -> None:
    old = service(health_def(Health(http="/healthz", port="http", interval=1), PORTS))
    new = service(health_def(Health(http="/health", port="http", interval=2), PORTS))
    assert changes(old, new) == [
        ("containers.api.health.http", "/healthz", "/health"),
        ("containers.api.health.interval", 1.0, 2.0),
    ]


def test_changing_the_kind_of_check() -> None:
    old = service(health_def(Health(http="/healthz", port="http"), PORTS))
    new = service(health_def(Health(command=["check"]), PORTS))
    assert changes(old, new) == [
        ("containers.api.health.command", None, ["check"]),
        ("containers.api.health.http", "/healthz", None),
        ("containers.api.health.port", 8000, None),
    ]


OLD_HTTP = (
    "curl -fsS -o /dev/null http://127.0.0.1:8000/healthz "
    "|| wget -q -O /dev/null http://127.0.0.1:8000/healthz "
    "|| python3 -c 'import urllib.request; "
    'urllib.request.urlopen("http://127.0.0.1:8000/healthz", timeout=5)\''
)
OLD_TCP = "nc -z 127.0.0.1 8000 || python3 -c 'import socket; ...'"


@pytest.mark.parametrize(
    ("script", "spec", "expect"),
    [
        (OLD_HTTP, Health(http="/healthz", port="http"), []),
        (
            OLD_HTTP,
            Health(http="/health", port="http"),
            [("containers.api.health.http", "/healthz", "/health")],
        ),
        (OLD_TCP, Health(tcp=True, port=8000), []),
    ],
    ids=["same-http", "changed-path", "same-tcp"],
)
def test_a_definition_an_earlier_version_wrote_compares_by_its_fields(
    script: str, spec: Health, expect: list[tuple[str, object, object]]
) -> None:
    """A running task's definition without the spec's fields: they are read back
    from its command, so an unchanged check shows only that its probe changed."""
    earlier = HealthDef(
        test=["CMD-SHELL", script], interval=2, timeout=2, retries=3, start_period=0
    )
    shown = changes(service(earlier), service(health_def(spec, PORTS)))
    if expect:
        assert shown == expect
    else:
        assert shown == [("containers.api.health.probe", "an earlier probe", "this version's")]


def test_a_check_added_or_removed() -> None:
    added = changes(service(None), service(health_def(Health(tcp=True, port=8000), PORTS)))
    assert ("containers.api.health.tcp", None, True) in added
    assert ("containers.api.health.port", None, 8000) in added
    removed = changes(service(health_def(Health(command=["x"]), PORTS)), service(None))
    assert ("containers.api.health.command", ["x"], None) in removed


def test_a_command_check_hashes_as_before_its_fields_were_kept() -> None:
    """Its command is its test: an upgrade does not replace a database for it."""
    made = health_def(Health(command=["pg_isready", "-q"], interval=1), PORTS)
    earlier = HealthDef(
        test=["CMD", "pg_isready", "-q"], interval=1, timeout=2, retries=3, start_period=0
    )
    assert service(made).task.spec_hash() == service(earlier).task.spec_hash()
    read_back = TaskDef.model_validate_json(service(made).task.canonical())
    assert read_back.spec_hash() == service(made).task.spec_hash()
