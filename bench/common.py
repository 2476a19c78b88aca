"""What the benchmarks share: a copy of the example, a free port on 127.0.0.1,
waiting for a URL, the machine's load average to print beside the figures, and
an environment of the engine tests' web server behind the ingress (holder +
Caddy), built, deployed and removed by its label."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import yaml

from dockyard.discovery import (
    INGRESS_SERVICE,
    PublicRoute,
    holder_service,
    ingress_build,
    ingress_service,
)
from dockyard.engines.docker import DockerEngine
from dockyard.engines.model import BuildRequest
from dockyard.plan.model import (
    ContainerDef,
    DesiredState,
    HealthDef,
    IngressDef,
    PortDef,
    ProxyDef,
    ServiceDef,
    TaskDef,
    WatchDef,
    network_name,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BASE_IMAGE = "dockyard/base:bookworm"
WEB_PORT = 8000
"""Where the engine tests' web server listens, and the port the ingress proxies."""


def copy_examples(tmp: Path) -> Path:
    """A copy of examples/ in ``tmp`` with the secrets of ``local``; the environment
    repo inside it."""
    root = tmp / "examples"
    made = ("__pycache__", ".dockyard", ".keys", "policies.yaml", "secrets")  # per checkout
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(*made))
    give_secrets(root / "platform", "local")
    return root / "platform"


def add_environment(repo: Path, name: str, port: int, **settings: Any) -> None:
    """Environment ``name``, derived from ``local``: its ingress serves on ``port``,
    ``settings`` replace top-level keys, and every service gets local's params."""
    data = yaml.safe_load((repo / "environments" / "local.yaml").read_text())
    data.update(settings, environment=name)
    data["params"] = {**data["params"], "web_port": port}  # the example's ingress port
    (repo / "environments" / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    for ref in data["services"]:
        params = (repo / "environments" / ref["source"]).resolve() / "params"
        if (params / "local.yaml").exists():
            shutil.copy(params / "local.yaml", params / f"{name}.yaml")
    give_secrets(repo, name)


def give_secrets(repo: Path, environment: str) -> None:
    """The example's secrets for ``environment``; every dockyard this process starts
    reads them with the example's key."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "example_secrets.py"
    done = subprocess.run(
        [sys.executable, str(script), str(repo), environment],
        check=True,
        capture_output=True,
        text=True,
    )
    os.environ["SOPS_AGE_KEY_FILE"] = done.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 120.0) -> None:
    """Wait until ``url`` answers 200; exit the benchmark after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout}s")


class FirstAnswer:
    """Asks ``url`` from now on, as ``wait_http`` does, and keeps the
    ``time.perf_counter()`` of its first 200: when an app serves, whether or not
    the command that deploys it has returned by then."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.url = url
        self.timeout = timeout
        self.at: float | None = None
        self._thread = threading.Thread(target=self._ask, daemon=True)
        self._thread.start()

    def _ask(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        self.at = time.perf_counter()
                        return
            except OSError:
                pass
            time.sleep(0.05)

    def wait(self) -> float:
        """The moment of the first 200; exits the benchmark when none came in time."""
        self._thread.join()
        if self.at is None:
            raise SystemExit(f"{self.url} did not answer within {self.timeout}s")
        return self.at


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes, for the bench's output:
    figures taken on a busy machine say so."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def parse_stamp(stamp: str) -> float:
    """A timestamp of the engine (RFC 3339, nanoseconds, as in a health check's
    log or ``docker logs --timestamps``) as seconds since the epoch."""
    head, _, rest = stamp.partition(".")
    fraction = rest.rstrip("Z")
    zone = ""
    for sign in "+-":
        if sign in fraction:
            fraction, _, zone = fraction.partition(sign)
            zone = sign + zone
    text = f"{head}.{fraction[:6]}{zone or '+00:00'}"
    return datetime.fromisoformat(text).timestamp()


# ------------------------------------------------- web behind the ingress


def web_health(interval: float = 0.5, timeout: float = 2.0) -> HealthDef:
    """The web server's health check: GET /healthz every ``interval`` seconds, each
    given ``timeout`` seconds (python3 starts slowly on a loaded machine)."""
    return HealthDef(
        test=[
            "CMD",
            "python3",
            "-c",
            "import urllib.request; "
            f"urllib.request.urlopen('http://127.0.0.1:{WEB_PORT}/healthz', timeout=1)",
        ],
        interval=interval,
        timeout=timeout,
        retries=3,
        start_period=0.0,
    )


def web_service(
    image: str,
    health: HealthDef,
    *,
    replicas: int = 2,
    env: Mapping[str, str] | None = None,
    watch: WatchDef | None = None,
    ports: Sequence[PortDef] = (),
) -> ServiceDef:
    """``web``, the engine tests' web server, behind the ingress. It gives up its
    name as an alias, so each replica's hostname (in its answers) is its short
    container id."""
    container = ContainerDef(
        name="web",
        image=image,
        health=health,
        stop_grace=2,
        env=dict(env or {}),
        ports=list(ports),
    )
    return ServiceDef(
        name="web",
        task=TaskDef(containers=[container], aliases=[]),
        replicas=replicas,
        depends_on=[INGRESS_SERVICE],
        drain=5.0,
        watch=watch or WatchDef(),
    )


def ingress_desired(
    environment: str,
    web: ServiceDef,
    *,
    holder_image: str,
    caddy_image: str,
    public_port: int,
    labels: Mapping[str, str],
    proxied: Sequence[str] = ("web",),
    services: Sequence[ServiceDef] = (),
) -> DesiredState:
    """``environment``: the ingress (holder + Caddy, publishing ``public_port`` on
    127.0.0.1) in front of ``web`` and the other ``proxied`` services, and
    ``services`` beside them; every public route leads to web."""
    ports = {name: [WEB_PORT] for name in proxied}
    holder = holder_service(environment, holder_image, public_port, "127.0.0.1", ports)
    caddy = ingress_service(environment, caddy_image, holder)
    ingress = IngressDef(
        service=INGRESS_SERVICE,
        proxied=[
            ProxyDef(service=name, ports=[WEB_PORT], health_path="/healthz", health_port=WEB_PORT)
            for name in proxied
        ],
        routes=[PublicRoute(service="web", port=WEB_PORT)],
    )
    return DesiredState(
        environment=environment,
        network=network_name(environment),
        services=[holder, caddy, web, *services],
        labels=dict(labels),
        ingress=ingress,
    )


def build_web(engine: DockerEngine, run: str, labels: Mapping[str, str]) -> str:
    """The engine tests' web server as ``dockyard-bench/web:<run>``."""
    tag = f"dockyard-bench/web:{run}"
    engine.build(
        BuildRequest(
            service="web",
            context=ROOT / "tests" / "engine" / "images" / "web",
            dockerfile="Dockerfile",
            tag=tag,
            labels=dict(labels),
        ),
        lambda line: None,
    )
    return tag


def build_ingress(engine: DockerEngine, tag: str, labels: Mapping[str, str]) -> str:
    """Dockyard's ingress image (Caddy) as ``tag``."""
    request = dataclasses.replace(ingress_build(BASE_IMAGE), tag=tag, labels=dict(labels))
    engine.build(request, lambda line: None)
    return tag


def remove_labelled(client: docker.DockerClient, label: str) -> None:
    """Remove every container (with its volumes), network and image carrying ``label``."""
    for container in client.containers.list(all=True, filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for network in client.networks.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
    for image in client.images.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(str(image.id), force=True)


@contextlib.contextmanager
def labelled_run(label: str) -> Iterator[tuple[DockerEngine, str]]:
    """The engine and a new run id; at the end, also on failure, everything that
    carries ``label=<run id>`` is removed."""
    engine = DockerEngine()
    run = secrets.token_hex(4)
    try:
        yield engine, run
    finally:
        remove_labelled(engine.client, f"{label}={run}")
        engine.close()
