"""Merged log throughput: ``dockyard logs``'s reading and merge against the Docker SDK.

Twenty containers of one environment (the base image) each write LINES numbered
lines, split between stdout and stderr, and exit. Then, in one run, the lines
of all twenty are read, with Docker's timestamps, three ways:

- Dockyard: :func:`dockyard.logs.read_logs`, every container read by a thread of
  its own, merged by timestamp into one order (the lines ``dockyard logs``
  prints, without the printing);
- the Docker SDK, one container after the other, as lines:
  ``container.logs(stream=True, timestamps=True)``, each line split from its
  timestamp (no merge: the order is the containers');
- the Docker SDK, one container after the other, each log read whole
  (``container.logs(timestamps=True)``) and split into lines afterwards: the
  fastest way the SDK has, which yields nothing until a container's log is in.

Each way counts the lines it gets (every one must arrive) and is timed over
RUNS runs; prints the lines per second (median), the CPU each way costs per
million lines here and in the engine's daemon (``dockerd``, when it runs on this
machine), and the ratios. The two CPU figures tell what bounds the rate: on N
cores no way reads faster than N divided by the CPU seconds a line costs in all. Everything it
creates is removed at the end, also on failure. Usage:

  python bench/logs.py [--containers 20] [--lines 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
from common import load_average

from dockyard.engines.docker import DockerEngine
from dockyard.logs import LogQuery, read_logs

BASE_IMAGE = "dockyard/base:bookworm"
LABEL = "dockyard.bench"
WRITER = (
    "import sys\n"
    "n = int(sys.argv[1])\n"
    "out, err = sys.stdout, sys.stderr\n"
    "for i in range(n):\n"
    "    (err if i % 4 == 0 else out).write(f'line {i} of a container writing numbered lines\\n')\n"
)


@contextlib.contextmanager
def writers(client: docker.DockerClient, count: int, lines: int) -> Iterator[str]:
    """``count`` exited containers of a new environment, ``lines`` lines each."""
    run = secrets.token_hex(4)
    environment = f"bench-logs-{run}"
    labels = {LABEL: run, "dockyard.env": environment, "dockyard.role": "main"}
    try:
        made = [
            client.containers.run(
                BASE_IMAGE,
                ["python3", "-u", "-c", WRITER, str(lines)],
                detach=True,
                name=f"{environment}-app-{i}",
                labels={
                    **labels,
                    "dockyard.service": "app",
                    "dockyard.kind": "service",
                    "dockyard.replica": str(i),
                    "dockyard.container": "app",
                },
            )
            for i in range(1, count + 1)
        ]
        for container in made:
            container.wait(timeout=300)
        yield environment
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{LABEL}={run}"}):
            container.remove(force=True)


def dockyard_merge(engine: DockerEngine, environment: str) -> int:
    sources = engine.log_sources(environment)
    return sum(1 for _ in read_logs(engine, sources, LogQuery()))


def sdk_lines(client: docker.DockerClient, environment: str) -> int:
    count = 0
    for container in client.containers.list(
        all=True, filters={"label": f"dockyard.env={environment}"}
    ):
        for raw in container.logs(stream=True, timestamps=True):
            _stamp, _, _text = raw.partition(b" ")
            count += 1
    return count


def sdk_whole(client: docker.DockerClient, environment: str) -> int:
    count = 0
    for container in client.containers.list(
        all=True, filters={"label": f"dockyard.env={environment}"}
    ):
        data = container.logs(timestamps=True)
        for raw in data.splitlines():
            _stamp, _, _text = raw.partition(b" ")
            count += 1
    return count


def daemon_pid() -> int | None:
    """The pid of this machine's ``dockerd``, if one runs here."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "dockerd":
                    return int(entry.name)
    return None


def cpu_of(pid: int | None) -> float:
    """CPU seconds process ``pid`` has used (user and system); 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(
    read: Callable[[], int], expected: int, runs: int, daemon: int | None = None
) -> tuple[list[float], float, float]:
    """Lines per second of each run, and the CPU seconds per million lines of
    this process and of the daemon; every run must get every line."""
    rates = []
    cpu = engine_cpu = 0.0
    for _ in range(runs):
        start, used, engine_used = time.perf_counter(), time.process_time(), cpu_of(daemon)
        got = read()
        seconds = time.perf_counter() - start
        cpu += time.process_time() - used
        engine_cpu += cpu_of(daemon) - engine_used
        if got != expected:
            raise SystemExit(f"read {got} lines, expected {expected}")
        rates.append(got / seconds)
    per_million = runs * expected / 1e6
    return rates, cpu / per_million, engine_cpu / per_million


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = DockerEngine()
    client = engine.client
    expected = args.containers * args.lines
    with writers(client, args.containers, args.lines) as environment:
        ways = {
            "dockyard (threads, merged by time)": lambda: dockyard_merge(engine, environment),
            "docker SDK, one by one, line stream": lambda: sdk_lines(client, environment),
            "docker SDK, one by one, whole logs": lambda: sdk_whole(client, environment),
        }
        timed(ways["dockyard (threads, merged by time)"], expected, 1)  # warm the page cache
        daemon = daemon_pid()
        rates: dict[str, float] = {}
        for name, read in ways.items():
            found, cpu, engine_cpu = timed(read, expected, args.runs, daemon)
            rates[name] = statistics.median(found)
            runs = ", ".join(f"{r:,.0f}" for r in found)
            spent = f"CPU per 1M lines: {cpu:4.1f} s here"
            if daemon is not None:
                spent += f", {engine_cpu:4.1f} s in dockerd"
            print(f"{name:38} {rates[name]:>10,.0f} lines/s  {spent}")
            print(f"{'':38} runs: {runs}")
    ours = rates["dockyard (threads, merged by time)"]
    print(
        f"\n{args.containers} containers x {args.lines} lines, median of {args.runs} runs; "
        f"{load_average()}"
    )
    print(f"ratio vs SDK line stream: {ours / rates['docker SDK, one by one, line stream']:.1f}x")
    print(f"ratio vs SDK whole logs:  {ours / rates['docker SDK, one by one, whole logs']:.1f}x")


if __name__ == "__main__":
    main()
