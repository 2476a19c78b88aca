"""The probes HTTP and TCP health checks run, run for real in containers: each
reports its own result in one line, whichever tool the image has."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.engines.errors import TaskNotReady
from dockyard.engines.model import BuildRequest
from dockyard.plan.containers import health_def
from dockyard.plan.model import PortDef
from dockyard.plan.probes import NO_TOOL_EXIT, http_probe, tcp_probe
from dockyard.spec.models import Health

from .conftest import IMAGES
from .support import BASE_IMAGE, TEST_RUN_LABEL, Run, service, wait_for, web

pytestmark = pytest.mark.engine

# Serves /srv: GET /ok answers 200, anything else 404; nothing listens on 8001.
SERVE = [
    "sh",
    "-c",
    "mkdir -p /srv && echo ok > /srv/ok && exec python3 -m http.server -d /srv 8000",
]
OK = "http://127.0.0.1:8000/ok"
MISSING = "http://127.0.0.1:8000/health"
DOWN = "http://127.0.0.1:8001/health"
FALLBACKS = (": not found", "Traceback", "curl:", "wget:", "||")


@pytest.fixture(scope="module")
def probes_image(engine: DockerEngine, suite_run: str) -> str:
    tag = f"dockyard-test/probes:{suite_run}"
    engine.build(
        BuildRequest(
            service="probes",
            context=IMAGES / "probes",
            dockerfile="Dockerfile",
            tag=tag,
            labels={TEST_RUN_LABEL: suite_run},
        ),
        lambda line: None,
    )
    return tag


def serving(client: docker.DockerClient, image: str, labels: dict[str, str]) -> Iterator[str]:
    container = client.containers.run(image, SERVE, detach=True, labels=labels)
    try:
        wait_for(lambda: container.exec_run(["python3", "-c", PING]).exit_code == 0, 20, "server")
        yield container.id or ""
    finally:
        container.remove(force=True)


PING = "import urllib.request as r; r.urlopen('http://127.0.0.1:8000/ok', timeout=1)"


@pytest.fixture
def base(client: docker.DockerClient, test_run: Run) -> Iterator[str]:
    yield from serving(client, BASE_IMAGE, test_run.labels)


@pytest.fixture
def tools(client: docker.DockerClient, test_run: Run, probes_image: str) -> Iterator[str]:
    yield from serving(client, probes_image, test_run.labels)


def probe(
    engine: DockerEngine, container: str, script: str, path: str | None = None
) -> tuple[int, str]:
    """Run ``script`` as Docker runs a CMD-SHELL check, with ``path`` as PATH if given."""
    env = ["/usr/bin/env", f"PATH={path}"] if path else []
    code, output = engine.exec(container, [*env, "/bin/sh", "-c", script])
    return code, output.strip()


def test_the_base_image_is_probed_with_python(engine: DockerEngine, base: str) -> None:
    assert engine.exec(base, ["sh", "-c", "command -v curl || command -v wget"])[0] != 0
    assert probe(engine, base, http_probe(OK, 2)) == (0, "")
    assert probe(engine, base, http_probe(MISSING, 2)) == (1, f"GET {MISSING}: 404 File not found")
    assert probe(engine, base, http_probe(DOWN, 2)) == (1, f"GET {DOWN}: connection refused")
    assert probe(engine, base, tcp_probe(8000, 2)) == (0, "")
    assert probe(engine, base, tcp_probe(8001, 2)) == (1, "TCP 127.0.0.1:8001: connection refused")


@pytest.mark.parametrize(("path", "tool"), [(None, "curl"), ("/opt/wget-only", "wget")])
def test_curl_and_wget_report_the_same_way(
    engine: DockerEngine, tools: str, path: str | None, tool: str
) -> None:
    assert probe(engine, tools, f"command -v {tool}", path)[0] == 0
    assert probe(engine, tools, http_probe(OK, 2), path) == (0, "")
    code, output = probe(engine, tools, http_probe(MISSING, 2), path)
    assert (code, output) == (1, f"GET {MISSING}: 404 File not found")
    code, output = probe(engine, tools, http_probe(DOWN, 2), path)
    assert code == 1
    assert output.lower() == f"get {DOWN}: connection refused"


def test_an_image_without_any_tool_says_so_in_one_line(engine: DockerEngine, base: str) -> None:
    code, output = probe(engine, base, http_probe(MISSING, 2), "/nonexistent")
    assert code == NO_TOOL_EXIT
    assert output == (
        f"the image has none of curl, wget, python3 to probe {MISSING}; use health.command"
    )
    code, output = probe(engine, base, tcp_probe(8000, 2), "/nonexistent")
    assert (code, output) == (
        NO_TOOL_EXIT,
        "the image has none of nc, python3 to probe 127.0.0.1:8000; use health.command",
    )


def test_a_failing_http_check_reports_the_probe_only(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    """The readiness error quotes the probe's one line and the container's last log lines."""
    ports = [PortDef(name="http", port=8000)]
    check = health_def(Health(http="/health", port="http", interval=0.3, retries=1), ports)
    main = web(web_image, "api", command=SERVE, ports=ports, health=check)
    api = service("api", main)
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    with pytest.raises(TaskNotReady) as raised:
        engine.wait_ready(task, 30, lambda line: None)

    message = raised.value.message
    assert "is unhealthy" in message
    assert f"last health check output: GET {MISSING}: 404 File not found" in message
    assert '"GET /health HTTP/1.1" 404' in raised.value.logs  # the server's own log line
    assert not [word for word in FALLBACKS if word in message.split("log lines of")[0]]


def test_a_check_without_its_tools_fails_at_once(
    engine: DockerEngine, test_run: Run, web_image: str
) -> None:
    """An image with none of the probe's tools (here: no PATH to find them on)."""
    ports = [PortDef(name="http", port=8000)]
    check = health_def(Health(http="/health", port="http", interval=0.3, start_period=300), ports)
    main = web(web_image, "api", ports=ports, health=check, env={"PATH": "/nonexistent"})
    main = main.model_copy(update={"command": ["/usr/bin/python3", "/app/server.py"]})
    api = service("api", main)
    desired = test_run.desired(api)
    engine.ensure_network(desired)
    task = engine.start_task(desired, api, 0, "r1")

    with pytest.raises(TaskNotReady) as raised:
        engine.wait_ready(task, 300, lambda line: None)

    message = raised.value.message
    assert "has a health check that cannot run" in message
    assert "the image has none of curl, wget, python3 to probe" in message
