"""The ingress against a real Caddy: routing, switching upstreams under load, draining,
surviving a restart, a 503 when no replica is listed, running as the caddy user,
serving its metrics, and what happens when a replica closes without answering or
dies mid-request.

Two replicas of the test web server (``A`` and ``B`` in their answers) run without
a network alias; the ingress's holder has the alias ``web`` and publishes the
public port on 127.0.0.1, and Caddy runs in the holder's namespace. A load
thread sends requests to that port, half on one keep-alive connection and half
on a new connection each.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass

import docker
import pytest

from dockyard.discovery import (
    HealthProbe,
    IngressClient,
    IngressError,
    ProxiedService,
    PublicRoute,
    RoutingTable,
    caddy_config,
    holder_service,
    ingress_service,
)
from dockyard.discovery.caddy import bootstrap_config
from dockyard.engines.docker import DockerEngine
from dockyard.errors import EngineError
from dockyard.plan.model import ActualTask, DesiredState, ServiceDef
from tests.fixtures.load import Load, get, served_since, who

from .support import (
    FETCH,
    Run,
    free_port,
    service,
    wait_for,
    web,
)

pytestmark = pytest.mark.engine

PORT = 8000
READY = 30.0
"""Seconds a task may take to become healthy."""
PER_STEP = 300
"""Requests served between two steps of a switch."""
RELOADS = 100
"""Configs loaded one after another under load. Without the sysctl of
``migrate_pending_connections`` a few of them reset a new connection (16 in 100
loads with three clients, 0 to 2 in 40 loads with two, here)."""


@dataclass
class Setup:
    desired: DesiredState
    a: ActualTask
    b: ActualTask
    client: ActualTask  # a container of the environment to send requests from
    holder: ActualTask  # holds the namespace: the published port, the alias `web`
    ingress: ActualTask  # Caddy, in the holder's namespace
    admin: IngressClient
    public_port: int

    @property
    def dial_a(self) -> str:
        return f"{self.a.task}:{PORT}"

    @property
    def dial_b(self) -> str:
        return f"{self.b.task}:{PORT}"

    def table(
        self, *dials: str, health: HealthProbe | None = None, metrics_port: int | None = None
    ) -> RoutingTable:
        return RoutingTable(
            services=[ProxiedService(name="web", upstreams={PORT: list(dials)}, health=health)],
            routes=[PublicRoute(service="web", port=PORT)],
            metrics_port=metrics_port,
        )

    def fetch_inside(self, url: str) -> tuple[int, str]:
        """GET ``url`` from the client container; the exit code and who answered."""
        code, output = exec_in_engine(self, "python3", "-c", FETCH, url)
        return code, who(output) if code == 0 else output


def exec_in_engine(setup: Setup, *argv: str) -> tuple[int, str]:
    assert setup.client.main is not None
    return setup.admin.engine.exec(setup.client.main.id, list(argv))


@pytest.fixture
def setup(
    engine: DockerEngine,
    client: docker.DockerClient,
    test_run: Run,
    web_image: str,
    ingress_image: str,
) -> Setup:
    def replica(message: str) -> ServiceDef:
        return service("web", web(web_image, env={"MESSAGE": message}), aliases=[])

    a, b = replica("A"), replica("B")
    sender = service("client", web(web_image, "client"))
    public_port = free_port()
    holder = holder_service(
        test_run.environment, ingress_image, public_port, "127.0.0.1", {"web": [PORT, 443]}
    )
    ingress = ingress_service(test_run.environment, ingress_image, holder)
    desired = test_run.desired(sender, holder, ingress)
    engine.ensure_network(desired)
    tasks = [
        engine.start_task(desired, svc, n, "r1")
        for n, svc in ((1, a), (2, b), (1, sender), (1, holder), (1, ingress))
    ]
    for task in tasks:
        engine.wait_ready(task, READY, lambda line: None)
    task_a, task_b, task_client, task_holder, task_ingress = tasks
    assert task_ingress.main is not None
    admin = IngressClient(engine, task_ingress.main.id)
    admin.wait_ready(READY)
    return Setup(
        desired, task_a, task_b, task_client, task_holder, task_ingress, admin, public_port
    )


# ----------------------------------------------------------------- tests


def test_the_ingress_serves_public_and_internal_traffic_from_the_listed_replicas(
    setup: Setup, client: docker.DockerClient
) -> None:
    config = caddy_config(setup.table(setup.dial_a, setup.dial_b))
    setup.admin.load(config)

    with Load(setup.public_port, max_requests=40) as load:
        bodies = served_since(load, 0, 40)
    assert set(bodies) == {"A", "B"}
    assert load.failures == []

    # Inside the environment, `web` is the ingress: DNS answers with it alone.
    assert setup.holder.main is not None
    ingress = client.containers.get(setup.holder.main.id)
    ingress_ip = ingress.attrs["NetworkSettings"]["Networks"][setup.desired.network]["IPAddress"]
    code, output = exec_in_engine(
        setup, "python3", "-c", "import socket; print(socket.gethostbyname_ex('web')[2])"
    )
    assert (code, output.strip()) == (0, str([ingress_ip]))
    answers = set()
    for _ in range(6):
        code, output = setup.fetch_inside(f"http://web:{PORT}/")
        assert code == 0, output
        answers.add(output)
    assert answers == {"A", "B"}

    # The Host header picks the service, with or without the port.
    bare_host = (
        "import http.client; c = http.client.HTTPConnection('web', 8000, timeout=2); "
        "c.request('GET', '/', headers={'Host': 'web'}); print(c.getresponse().read().decode())"
    )
    code, output = exec_in_engine(setup, "python3", "-c", bare_host)
    assert code == 0 and who(output) in {"A", "B"}, output
    code, output = exec_in_engine(setup, "python3", "-c", bare_host.replace("'web'}", "'db'}"))
    assert "no route on the ingress" in output

    loaded = setup.admin.config()
    assert loaded["apps"] == config["apps"]
    assert set(setup.admin.upstreams()) == {setup.dial_a, setup.dial_b}


def test_switching_upstreams_under_steady_load_loses_no_request(
    engine: DockerEngine, setup: Setup
) -> None:
    only_a = setup.table(setup.dial_a)
    setup.admin.load(caddy_config(only_a))

    with Load(setup.public_port) as load:
        assert set(served_since(load, 0, PER_STEP)) == {"A"}

        both = only_a.with_upstreams("web", PORT, [setup.dial_a, setup.dial_b])
        setup.admin.load(caddy_config(both))
        mark = load.served + 1  # a request may have been in flight meanwhile
        assert set(served_since(load, mark, PER_STEP)) == {"A", "B"}

        # A gets no new request, finishes those in flight, and is stopped.
        draining = both.drain([setup.dial_a])
        setup.admin.load(caddy_config(draining))
        mark = load.served + 1
        assert setup.admin.wait_drained([setup.dial_a], timeout=30)
        engine.remove_task(setup.a)
        setup.admin.load(caddy_config(draining.forget([setup.dial_a])))
        after = served_since(load, mark, PER_STEP)
    load.stop()

    summary = (
        f"served {load.served}, failed {len(load.failures)}; keep-alive connections "
        f"closed by the ingress: {load.reconnects} found before use, "
        f"{load.stale_retries} as a request went out (sent again)"
    )
    print(f"\nswitch A -> A+B -> B under load: {summary}")
    assert load.failures == [], summary
    assert set(after) == {"B"}
    assert load.bodies.index("B") > 0  # A answered first


def test_many_loads_under_load_lose_no_connection(setup: Setup) -> None:
    orders = [
        caddy_config(setup.table(setup.dial_a, setup.dial_b)),
        caddy_config(setup.table(setup.dial_b, setup.dial_a)),  # another config: Caddy reloads
    ]
    setup.admin.load(orders[1])

    # A hundred loads take minutes on a busy machine: the loads may run that long.
    first, second = (
        Load(setup.public_port, max_seconds=900),
        Load(setup.public_port, max_seconds=900),
    )
    with first, second:
        served_since(first, 0, 20)
        for n in range(RELOADS):
            setup.admin.load(orders[n % 2])
        served_since(first, first.served, 20)
    first.stop()
    second.stop()

    served = first.served + second.served
    failures = first.failures + second.failures
    print(f"\n{RELOADS} loads under load: served {served}, failed {len(failures)}")
    assert failures == []


def test_wait_drained_waits_for_a_slow_request_in_flight(
    engine: DockerEngine, setup: Setup
) -> None:
    only_a = setup.table(setup.dial_a)
    setup.admin.load(caddy_config(only_a))

    with Load(setup.public_port, path="/slow?s=5", max_requests=1) as slow:
        wait_for(
            lambda: setup.admin.upstreams().get(setup.dial_a) == 1, 10, "the slow request at A"
        )
        draining = only_a.with_upstreams("web", PORT, [setup.dial_b]).drain([setup.dial_a])
        setup.admin.load(caddy_config(draining))
        # New requests already go to B while A still answers the slow one.
        code, output = setup.fetch_inside(f"http://web:{PORT}/")
        assert (code, output) == (0, "B")
        assert setup.admin.upstreams()[setup.dial_a] == 1

        assert setup.admin.wait_drained([setup.dial_a], timeout=30, poll=0.1)
        # Drained means done: stopping A now cannot cut the slow request short.
        engine.remove_task(setup.a)
        wait_for(lambda: slow.served + len(slow.failures) == 1, 10, "the slow request to end")
    assert (slow.bodies, slow.failures) == (["A"], [])


@pytest.mark.fault
def test_a_restarted_ingress_resumes_its_routes_on_its_own(
    setup: Setup, client: docker.DockerClient
) -> None:
    config = caddy_config(setup.table(setup.dial_a, setup.dial_b))
    setup.admin.load(config)
    assert setup.ingress.main is not None
    container = client.containers.get(setup.ingress.main.id)
    started = container.attrs["State"]["StartedAt"]

    with Load(setup.public_port, max_seconds=60) as load:
        served_since(load, 0, 20)
        container.restart(timeout=3)
        mark = load.served
        # No config is loaded again: Caddy resumes the one it saved.
        served_since(load, mark, 100, timeout=30)
    load.stop()

    print(
        f"\nrestart under load: served {load.served}, "
        f"failed while the ingress restarted {len(load.failures)}"
    )
    container.reload()
    assert container.attrs["State"]["StartedAt"] != started
    assert set(load.bodies[mark:]) == {"A", "B"}
    assert setup.admin.config()["apps"] == config["apps"]


METRICS = (
    "import sys, urllib.request; "
    "text = urllib.request.urlopen(sys.argv[1], timeout=2).read().decode(); "
    "print(sum(float(line.split()[-1]) for line in text.splitlines() "
    "if line.startswith('caddy_http_requests_total{') and 'server=\"public\"' in line))"
)
"""A python3 -c program that prints the public server's caddy_http_requests_total
at the metrics URL argv[1]."""


def test_the_metrics_server_counts_requests_and_serves_beside_a_second_caddy(
    setup: Setup, engine: DockerEngine
) -> None:
    config = caddy_config(setup.table(setup.dial_a, setup.dial_b, metrics_port=2019))
    setup.admin.load(config)
    connection = http.client.HTTPConnection("127.0.0.1", setup.public_port, timeout=5)
    for _ in range(10):
        assert get(connection, "/", {})[0] == 200
    connection.close()
    # The holder's alias `web` leads to its namespace: port 2019 answers there.
    code, output = scrape(setup)
    assert code == 0 and float(output) >= 10, output

    # An upgrade: a second Caddy in the same namespace loads the same config, its
    # metrics server on the same port (SO_REUSEPORT), while the first one serves.
    second = engine.start_task(setup.desired, setup.desired.service("ingress"), 2, "r1")
    engine.wait_ready(second, READY, lambda line: None)
    assert second.main is not None
    IngressClient(engine, second.main.id).load(config)
    scrapes = [scrape(setup) for _ in range(10)]  # either Caddy may answer each
    assert all(code == 0 for code, _ in scrapes), scrapes
    engine.remove_task(second)


def scrape(setup: Setup) -> tuple[int, str]:
    return exec_in_engine(setup, "python3", "-c", METRICS, "http://web:2019/metrics")


def test_no_listed_replica_is_a_503_and_a_bad_config_is_refused(setup: Setup) -> None:
    setup.admin.load(caddy_config(setup.table()))

    connection = http.client.HTTPConnection("127.0.0.1", setup.public_port, timeout=5)
    status, body = get(connection, "/", {})
    connection.close()
    assert (status, body) == (503, "no healthy replica of web answers on port 8000\n")
    _, output = exec_in_engine(
        setup,
        "python3",
        "-c",
        "import urllib.request, urllib.error\n"
        "try: urllib.request.urlopen('http://web:8000/', timeout=2)\n"
        "except urllib.error.HTTPError as e: print(e.code, e.read().decode())",
    )
    assert output.strip() == "503 no healthy replica of web answers on port 8000"

    servers = {"x": {"listen": [":8000"], "routes": "nonsense"}}
    bad = {**bootstrap_config(), "apps": {"http": {"servers": servers}}}
    with pytest.raises(IngressError, match="refused the new config") as refused:
        setup.admin.load(bad)
    assert "HTTP 400" in refused.value.message
    # The previous config still runs.
    assert setup.admin.config()["apps"] == caddy_config(setup.table())["apps"]


def test_exec_returns_the_exit_code_and_both_outputs(
    engine: DockerEngine, setup: Setup, client: docker.DockerClient
) -> None:
    assert setup.client.main is not None
    program = "import sys; print('out', flush=True); print('err', file=sys.stderr); sys.exit(4)"

    code, output = engine.exec(setup.client.main.id, ["python3", "-c", program])

    assert (code, sorted(output.splitlines())) == (4, ["err", "out"])  # two pipes: any order
    client.containers.get(setup.client.main.id).stop(timeout=1)
    with pytest.raises(EngineError, match="is not running"):
        engine.exec(setup.client.main.id, ["true"])


# ------------------------------------------------- non-root, health and retries


def send(port: int, method: str, path: str) -> tuple[int, str | None]:
    """One request on a new connection to 127.0.0.1:``port``: the status and the
    X-Replica header of the replica that answered."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers={"Connection": "close", "Content-Length": "0"})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-Replica")
    finally:
        connection.close()


@pytest.mark.fault
def test_caddy_runs_as_the_caddy_user_listens_below_1024_and_keeps_its_admin_api_inside(
    setup: Setup,
) -> None:
    assert setup.ingress.main is not None and setup.holder.main is not None
    owner = "import os, pwd; print(pwd.getpwuid(os.stat('/proc/1').st_uid).pw_name)"
    code, output = setup.admin.engine.exec(setup.ingress.main.id, ["python3", "-c", owner])
    assert (code, output.strip()) == (0, "caddy")

    # Port 443 is proxied, with no replica listed: Caddy, not root, listens there.
    setup.admin.load(caddy_config(setup.table(setup.dial_a).with_upstreams("web", 443, [])))
    _, output = exec_in_engine(
        setup,
        "python3",
        "-c",
        "import urllib.request, urllib.error\n"
        "try: urllib.request.urlopen('http://web:443/', timeout=2)\n"
        "except urllib.error.HTTPError as e: print(e.code, e.read().decode())",
    )
    assert output.strip() == "503 no healthy replica of web answers on port 443"

    # The admin API is a unix socket in the Caddy container: nothing listens on
    # 2019, neither in the ingress's namespace nor for the environment.
    probe = "import socket, sys; socket.create_connection((sys.argv[1], 2019), 2)"
    code, output = setup.admin.engine.exec(
        setup.holder.main.id, ["python3", "-c", probe, "127.0.0.1"]
    )
    assert code != 0 and "Connection refused" in output
    code, output = exec_in_engine(setup, "python3", "-c", probe, "web")
    assert code != 0 and "Connection refused" in output


@pytest.mark.fault
def test_an_upstream_that_closes_connections_without_answering_stays_in_rotation(
    setup: Setup,
) -> None:
    setup.admin.load(caddy_config(setup.table(setup.dial_a, setup.dial_b)))

    # A POST is never sent again: each of these reaches one replica, which
    # closes the connection without an answer.
    closed = [send(setup.public_port, "POST", "/close")[0] for _ in range(2)]
    assert closed == [502, 502]

    # Both replicas are still in rotation: POSTs (not retried, so a replica out
    # of rotation would show as a 503 at once) and GETs reach both.
    posts = [send(setup.public_port, "POST", "/") for _ in range(4)]
    gets = [send(setup.public_port, "GET", "/") for _ in range(4)]
    assert {status for status, _ in posts + gets} == {200}
    assert {replica for _, replica in posts} == {"A", "B"}
    assert {replica for _, replica in gets} == {"A", "B"}
    listed = setup.admin.call("GET", "/reverse_proxy/upstreams").json()
    assert {u["address"]: u["fails"] for u in listed} == {setup.dial_a: 0, setup.dial_b: 0}


@pytest.mark.fault
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_safe_request_to_a_replica_that_dies_mid_request_is_answered_by_the_other(
    method: str, setup: Setup, client: docker.DockerClient
) -> None:
    setup.admin.load(caddy_config(setup.table(setup.dial_a, setup.dial_b)))
    answers: list[tuple[int, str | None]] = []
    request = threading.Thread(
        target=lambda: answers.append(send(setup.public_port, method, "/slow?s=3"))
    )
    request.start()
    busy = wait_for(
        lambda: [d for d, n in setup.admin.upstreams().items() if n == 1], 10, "the slow request"
    )
    dying, other = (setup.a, "B") if busy == [setup.dial_a] else (setup.b, "A")
    assert dying.main is not None
    client.containers.get(dying.main.id).kill()
    request.join(timeout=30)

    assert answers == [(200, other)]


@pytest.mark.fault
@pytest.mark.parametrize("probed", [True, False], ids=["probed", "unprobed"])
def test_a_dead_replica_is_skipped_without_a_failed_request(
    probed: bool, setup: Setup, client: docker.DockerClient
) -> None:
    """No passive health check. With the ingress's probe (a service with an HTTP
    health check) a dead replica leaves the rotation once a probe fails; without
    one, each request that lands on it fails to connect and goes to the other
    replica, later by the failed lookup and ``try_interval``.

    The load sends one request at a time, so at most one was being answered by B
    when it was killed: if B had sent its headers, Caddy had passed them on and
    that response can only end short (no proxy can answer it again). That one
    truncated answer is the kill's, not a request sent to a dead replica."""
    probe = HealthProbe(path="/healthz", interval=0.5, timeout=2.0) if probed else None
    setup.admin.load(caddy_config(setup.table(setup.dial_a, setup.dial_b, health=probe)))
    assert setup.b.main is not None

    with Load(setup.public_port) as load:
        assert set(served_since(load, 0, 100)) == {"A", "B"}
        client.containers.get(setup.b.main.id).stop(timeout=0)
        mark = load.served + 1  # a request may have been in flight meanwhile
        after = served_since(load, mark, 40, timeout=60)
    load.stop()

    print(f"\nB stopped under load: served {load.served}, failed {len(load.failures)}")
    cut_short = [f for f in load.failures if "IncompleteRead" in f.what]
    assert len(cut_short) <= 1 and load.failures == cut_short, load.failures
    assert set(after) == {"A"}
