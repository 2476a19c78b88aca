"""Rollouts under steady load, with Dockyard and with docker-compose, in one run.

For each tool: deploy the example, put a steady load on the web front end
(GET /api/items, which goes through the api to Postgres: two clients, each
alternating a keep-alive connection and a new connection per request), then roll
out a changed version three times: LOG_LEVEL debug / info / debug for api, its
stats sidecar and web, so that their containers are replaced. Just before each
rollout one slow request (GET /slow?seconds=2) starts, to see whether a request
in flight survives the rollout.

  compose   `docker-compose up -d` with LOG_LEVEL set; the app is reached on the
            port web publishes (WEB_PORT).
  dockyard  `dockyard release ENV` after changing the `log_level` param of api
            and web; the app is reached on the environment's ingress port (on
            web's published port while the environment has no `ingress:` block).

A rollout lasts from the command's start until the command has returned and the
app serves again. Requests served and failed are counted over the rollouts only;
a failure is anything but a 200. Dockyard's release times are also set against a
floor measured in the same run: creating and starting one api container (same
image, command, env and health check, through the Docker SDK) until Docker
reports it healthy.

Then, under the same load, Dockyard rolls out api alone three times (`dockyard
release ENV api`, api's `log_level` changed): the api rollout is timed from the
command's `replace service api` line to the next step's line (the after-deploy
smoke test), so it leaves out the lock, the build check and the tasks; it takes
in both batches, the drains, the stops and api's watch window (`deploy.watch`,
5 s). The goal: at most 3 x the floor plus the watch window.

Everything the bench creates (compose project, Dockyard environment, the floor's
containers, the temporary copy of examples/) is removed at the end, also on
failure. Traffic goes only to 127.0.0.1.

Usage: python bench/rollout.py [--runs N] [--only compose|dockyard]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import docker
import docker.errors
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import add_environment, copy_examples, free_port, load_average, wait_http  # noqa: E402

from tests.fixtures.load import Load, SlowRequest  # noqa: E402

COMPOSE_FILE = ROOT / "examples" / "compose" / "docker-compose.yml"
LEVELS = ("debug", "info", "debug")
"""LOG_LEVEL of each rollout; the first deploy runs with info."""
API_LEVELS = ("info", "debug", "info")
"""api's log_level in each rollout of api alone; the rollouts before leave it at debug."""
LOAD_PATH = "/api/items"
SLOW_PATH = "/slow?seconds=2"
CLIENTS = 2
SETTLE = 2.0
"""Seconds of steady load before the first rollout and between two rollouts."""
BENCH_LABEL = "dockyard-bench.rollout"
FLOOR_SAMPLES = 3
API_WATCH = 5.0
"""Seconds of api's watch window (the example's default ``deploy.watch``)."""


class CommandFailed(Exception):
    def __init__(self, cmd: tuple[str, ...], code: int, output: str) -> None:
        super().__init__(f"{' '.join(cmd)} failed ({code}):\n{output}")
        self.output = output

    @property
    def summary(self) -> str:
        """The command's first error line (Dockyard's `error[...]`), else its last line."""
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        errors = [line for line in lines if line.lower().startswith("error")]
        return (errors or lines or ["no output"])[0][:200]


def sh(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise CommandFailed(cmd, proc.returncode, proc.stdout + proc.stderr)


def quietly(*cmd: str, env: dict[str, str] | None = None) -> None:
    """Run a clean-up command; say so when it fails, and carry on."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        print(f"clean-up: {' '.join(cmd)} failed:\n{proc.stderr.strip()}", file=sys.stderr)


def ignore(_body: str) -> str:
    return ""


def sh_timed(*cmd: str) -> list[tuple[float, str]]:
    """Run ``cmd``; return each line it wrote to standard error with the
    ``time.perf_counter()`` at which it came."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ
    )
    lines: list[tuple[float, str]] = []
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        lines.append((time.perf_counter(), line.rstrip("\n")))
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise CommandFailed(cmd, proc.returncode, out + "\n".join(text for _, text in lines))
    return lines


def api_span(lines: list[tuple[float, str]], finished: float) -> float | None:
    """Seconds from the `replace service api` line to the next step's line (or to
    ``finished`` when none follows); None when api was not rolled out."""
    began = next((t for t, text in lines if text.startswith("==> replace service api")), None)
    if began is None:
        return None
    later = [
        t
        for t, text in lines
        if t > began and text.startswith("==> ") and not text.startswith("==> watching")
    ]
    return (later[0] if later else finished) - began


# ---------------------------------------------------------------- measuring


@dataclass
class Rollout:
    seconds: float  # from the command's start until the app serves again
    command_seconds: float  # until the command returned
    served: int
    failed: int
    longest_outage: float  # seconds without a 200 on one client
    slow: SlowRequest
    first_failure: str = ""
    error: str = ""  # the rollout command failed: its error


@dataclass
class Results:
    rollouts: dict[str, list[Rollout]] = field(default_factory=dict)
    steady: dict[str, list[float]] = field(default_factory=dict)  # requests/s, no rollout
    failed_between: dict[str, int] = field(default_factory=dict)
    floors: list[float] = field(default_factory=list)
    api_spans: list[float] = field(default_factory=list)  # dockyard's api rollouts
    api_rollouts: list[Rollout] = field(default_factory=list)

    def add(self, tool: str, measured: Measured) -> None:
        self.rollouts.setdefault(tool, []).extend(measured.rollouts)
        self.steady.setdefault(tool, []).append(measured.steady)
        self.failed_between[tool] = self.failed_between.get(tool, 0) + measured.failed_between


@dataclass
class Measured:
    rollouts: list[Rollout]
    steady: float  # requests/s served before the first rollout
    failed_between: int  # failed outside the rollouts


def under_load(port: int, roll: Callable[[int], None]) -> Measured:
    """Run ``roll(n)`` for each rollout under steady load."""
    url = f"http://127.0.0.1:{port}{LOAD_PATH}"
    wait_http(url, 180)
    loads = [
        Load(port, path=LOAD_PATH, parse=ignore, max_requests=10**9, max_seconds=3600)
        for _ in range(CLIENTS)
    ]
    rollouts: list[Rollout] = []
    for load in loads:
        load.start()
    try:
        time.sleep(SETTLE)
        steady = sum(load.served for load in loads) / SETTLE
        for n in range(len(LEVELS)):
            served = sum(load.served for load in loads)
            failed = sum(len(load.failures) for load in loads)
            slow = SlowRequest(port, SLOW_PATH)
            slow.start()
            time.sleep(0.2)  # in flight when the rollout starts
            began, began_mono = time.perf_counter(), time.monotonic()
            error = ""
            try:
                roll(n)
            except CommandFailed as e:  # a result too: measure how the app fares after it
                error = e.summary
            command_seconds = time.perf_counter() - began
            wait_http(url, 180)
            seconds = time.perf_counter() - began
            failures = [f for load in loads for f in load.failures if f.at >= began_mono]
            outages = [
                end - start for load in loads for start, end in load.outages if end >= began_mono
            ]
            rollouts.append(
                Rollout(
                    seconds=seconds,
                    command_seconds=command_seconds,
                    served=sum(load.served for load in loads) - served,
                    failed=sum(len(load.failures) for load in loads) - failed,
                    longest_outage=max(outages, default=0.0),
                    slow=slow,
                    first_failure=str(min(failures, key=lambda f: f.at)) if failures else "",
                    error=error,
                )
            )
            slow.join()
            time.sleep(SETTLE)
    finally:
        for load in loads:
            load.stop()
    total_failed = sum(len(load.failures) for load in loads)
    return Measured(rollouts, steady, total_failed - sum(r.failed for r in rollouts))


def report(tool: str, measured: Measured) -> None:
    print(f"  {tool}: {measured.steady:.0f} requests/s served before the rollouts", flush=True)
    for n, r in enumerate(measured.rollouts, 1):
        slow = (
            f"ok in {r.slow.seconds:.2f}s"
            if r.slow.ok and r.slow.seconds is not None
            else f"FAILED ({r.slow.failure or 'no answer'})"
        )
        print(
            f"  {tool} rollout {n}: {r.seconds:.2f}s (command {r.command_seconds:.2f}s), "
            f"served {r.served}, failed {r.failed}, longest outage {r.longest_outage:.2f}s, "
            f"slow request {slow}",
            flush=True,
        )
        if r.error:
            print(f"    the rollout command FAILED: {r.error}", flush=True)
        if r.first_failure:
            print(f"    first failed request: {r.first_failure[:160]}", flush=True)


# ------------------------------------------------------------------ compose


def run_compose(results: Results, compose_bin: str) -> None:
    project = f"dyroll{secrets.token_hex(3)}"
    port = free_port()
    base = {"WEB_PORT": str(port), "COMPOSE_PROJECT_NAME": project}

    def compose(*a: str, level: str = "info") -> None:
        sh(compose_bin, "-f", str(COMPOSE_FILE), *a, env={**base, "LOG_LEVEL": level})

    try:
        print(f"compose: building, then `up -d` (project {project}) ...", flush=True)
        compose("build", "-q")
        compose("up", "-d")
        measured = under_load(port, lambda n: compose("up", "-d", level=LEVELS[n]))
        report("compose", measured)
        results.add("compose", measured)
    finally:
        quietly(
            compose_bin,
            "-f",
            str(COMPOSE_FILE),
            "down",
            "-v",
            "--remove-orphans",
            env={**base, "LOG_LEVEL": "info"},
        )
        remove_labelled(f"com.docker.compose.project={project}")


# ----------------------------------------------------------------- dockyard


def dockyard_command() -> list[str]:
    script = Path(sys.executable).with_name("dockyard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dockyard"]


def prepare(tmp: Path, env: str, port: int) -> Path:
    """A copy of examples/ with environment ``env``, its ingress serving on ``port``."""
    repo = copy_examples(tmp)
    add_environment(repo, env, port)
    return repo


def set_param(repo: Path, env: str, service: str, key: str, value: object) -> None:
    path = repo.parent / "services" / service / "params" / f"{env}.yaml"
    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    data = data or {}
    data[key] = value
    path.write_text(yaml.safe_dump(data))


def run_dockyard(results: Results, client: docker.DockerClient) -> None:
    env = f"roll{secrets.token_hex(3)}"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmpdir:
        repo = prepare(Path(tmpdir), env, port)

        def dockyard(*a: str) -> None:
            sh(*dockyard_command(), "-C", str(repo), *a)

        def roll(n: int) -> None:
            for service in ("api", "web"):
                set_param(repo, env, service, "log_level", LEVELS[n])
            dockyard("release", env)

        def roll_api(n: int) -> None:
            set_param(repo, env, "api", "log_level", API_LEVELS[n])
            lines = sh_timed(*dockyard_command(), "-C", str(repo), "release", env, "api")
            span = api_span(lines, time.perf_counter())
            if span is None:
                raise CommandFailed(("release", env, "api"), 0, "api was not rolled out")
            results.api_spans.append(span)

        try:
            print(f"dockyard: first release of {env}, served by its ingress ...", flush=True)
            dockyard("release", env)
            measured = under_load(port, roll)
            report("dockyard", measured)
            results.add("dockyard", measured)
            print("dockyard: api alone, under the same load ...", flush=True)
            api = under_load(port, roll_api)
            report("dockyard api", api)
            results.api_rollouts += api.rollouts
            for _ in range(FLOOR_SAMPLES):
                results.floors.append(floor(client, env))
        finally:
            quietly(*dockyard_command(), "-C", str(repo), "down", env, "--volumes")
            remove_labelled(f"dockyard.env={env}")


def floor(client: docker.DockerClient, env: str) -> float:
    """Seconds to create and start one api container like the running ones (same image,
    command, env, health check and network) until Docker reports it healthy."""
    running = client.containers.list(
        filters={"label": [f"dockyard.env={env}", "dockyard.service=api", "dockyard.role=main"]}
    )
    if not running:
        raise SystemExit(f"no api container of {env} runs to copy for the floor")
    attrs: dict[str, Any] = running[0].attrs
    config = attrs["Config"]
    network = next(iter(attrs["NetworkSettings"]["Networks"]))
    began = time.perf_counter()
    container = client.containers.create(
        attrs["Image"],
        config["Cmd"],
        environment=config["Env"],
        healthcheck=config["Healthcheck"],
        network=network,
        labels={BENCH_LABEL: env},
    )
    try:
        container.start()
        deadline = time.monotonic() + 60
        while True:
            container.reload()
            if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                return time.perf_counter() - began
            if time.monotonic() > deadline:
                raise SystemExit("the floor's api container did not become healthy in 60s")
            time.sleep(0.02)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


# ------------------------------------------------------------------ clean-up


def remove_labelled(label: str) -> None:
    """Remove every container, network and volume carrying ``label``."""
    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"label": label}):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        for network in client.networks.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                network.remove()
        for volume in client.volumes.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                volume.remove(force=True)
    finally:
        client.close()


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """A SIGTERM ends the bench like Ctrl-C does: through the clean-up."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -------------------------------------------------------------------- table


def print_table(results: Results) -> None:
    print()
    print(
        f"{'tool':<10}{'rollouts':>9}{'served':>9}{'failed':>8}{'failed %':>10}"
        f"{'median s':>10}{'req/s':>7}{'steady req/s':>14}{'longest outage s':>18}{'slow ok':>9}"
        f"{'cmd failed':>12}"
    )
    medians: dict[str, float] = {}
    failed_pct: dict[str, float] = {}
    for tool, rollouts in results.rollouts.items():
        served = sum(r.served for r in rollouts)
        failed = sum(r.failed for r in rollouts)
        pct = 100 * failed / (served + failed) if served + failed else 0.0
        medians[tool] = statistics.median(r.seconds for r in rollouts)
        failed_pct[tool] = pct
        outage = max(r.longest_outage for r in rollouts)
        slow_ok = sum(r.slow.ok for r in rollouts)
        rate = served / sum(r.seconds for r in rollouts)
        steady = statistics.median(results.steady[tool])
        print(
            f"{tool:<10}{len(rollouts):>9}{served:>9}{failed:>8}{pct:>9.2f}%"
            f"{medians[tool]:>10.2f}{rate:>7.0f}{steady:>14.0f}{outage:>18.2f}"
            f"{f'{slow_ok}/{len(rollouts)}':>9}{sum(bool(r.error) for r in rollouts):>12}"
        )
    for tool, between in results.failed_between.items():
        if between:
            print(f"  ({tool}: {between} more requests failed outside the rollouts)")

    print("  (req/s: served during the rollouts; steady: before them, with the same load)")
    print()
    print("ratios")
    if "dockyard" in medians and "compose" in medians:
        ratio = medians["dockyard"] / medians["compose"]
        print(f"  median rollout, dockyard / compose (below 1: dockyard is faster)  {ratio:6.2f}")
        if failed_pct["compose"]:
            pct = failed_pct["dockyard"] / failed_pct["compose"]
            print(f"  failed %, dockyard / compose                                    {pct:6.2f}")
    if results.floors:
        floor = statistics.median(results.floors)
        samples = " ".join(f"{x:.2f}" for x in results.floors)
        print(f"  floor: one api container created, started and healthy: {floor:.2f}s ({samples})")
        for n, r in enumerate(results.rollouts.get("dockyard", []), 1):
            print(
                f"  dockyard release {n}: {r.command_seconds:.2f}s, "
                f"{r.command_seconds / floor:.1f} x the floor"
            )
        goal = 3 * floor + API_WATCH
        for n, span in enumerate(results.api_spans, 1):
            print(
                f"  api rollout {n} (2 replicas): {span:.2f}s, {span / floor:.1f} x the floor; "
                f"{(span - API_WATCH) / floor:.1f} x the floor besides the {API_WATCH:g}s watch "
                f"window (goal: at most 3 x, {goal:.2f}s)"
            )
        if results.api_rollouts:
            served = sum(r.served for r in results.api_rollouts)
            failed = sum(r.failed for r in results.api_rollouts)
            print(f"  api rollouts under load: served {served}, failed {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", choices=("compose", "dockyard"), help="measure one tool only")
    args = parser.parse_args()
    compose_bin = shutil.which("docker-compose")
    if compose_bin is None and args.only != "dockyard":
        raise SystemExit("docker-compose is not installed (Debian: apt-get install docker-compose)")

    results = Results()
    client = docker.from_env()
    try:
        with exit_on_sigterm():
            for i in range(args.runs):
                print(f"run {i + 1}/{args.runs} ({load_average()})", flush=True)
                if compose_bin is not None and args.only != "dockyard":
                    run_compose(results, compose_bin)
                if args.only != "compose":
                    run_dockyard(results, client)
    except CommandFailed as e:
        raise SystemExit(str(e)) from None
    finally:
        for container in client.containers.list(all=True, filters={"label": BENCH_LABEL}):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        client.close()
        if results.rollouts:  # also what was measured before a failure
            print(f"done ({load_average()})")
            print_table(results)


if __name__ == "__main__":
    main()
