"""Deploy the example with Dockyard and with docker-compose, in one run.

Measures, for each tool, with the images already built:
  cold   - nothing runs; deploy everything, and time until the app serves data
           (GET /api/items on the web front end goes through the api to Postgres),
           asked from the command's start on for both tools, and until the command
           returns. Dockyard returns once every replica is healthy and the smoke
           test passed, which may be after the app serves; `docker-compose up -d`
           returns before its services are up.
  no-op  - everything runs and nothing changed; deploy again

Prints medians over --runs repetitions and the ratio Dockyard / compose.
Traffic goes only to 127.0.0.1. Usage: python bench/deploy.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import FirstAnswer, add_environment, copy_examples, free_port, load_average

ROOT = Path(__file__).resolve().parents[1]
ENV = "bench"
PROJECT = "dockyardbench"


def sh(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def timed(fn: Callable[[], None]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def prepare(tmp: Path, port: int) -> Path:
    """A copy of examples/ with a `bench` environment on a free port."""
    repo = copy_examples(tmp)
    add_environment(repo, ENV, port)
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    compose_bin = shutil.which("docker-compose")
    if compose_bin is None:
        raise SystemExit("docker-compose is not installed (Debian: apt-get install docker-compose)")

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        dy_port, dc_port = free_port(), free_port()
        repo = prepare(tmp, dy_port)
        compose_file = ROOT / "examples" / "compose" / "docker-compose.yml"
        dc_env = {"WEB_PORT": str(dc_port), "COMPOSE_PROJECT_NAME": PROJECT}

        def dockyard(*a: str) -> None:
            sh(sys.executable, "-m", "dockyard", "-C", str(repo), *a)

        def compose(*a: str) -> None:
            sh(compose_bin, "-f", str(compose_file), *a, env=dc_env)

        results: dict[str, list[float]] = {}

        def record(key: str, seconds: float) -> None:
            results.setdefault(key, []).append(seconds)

        print("warming up: building images for both tools ...", flush=True)
        dockyard("deploy", ENV)
        dockyard("down", ENV, "--volumes")
        compose("build")
        compose("down", "-v")
        try:
            for i in range(args.runs):
                print(f"run {i + 1}/{args.runs} ({load_average()})", flush=True)
                began = time.perf_counter()
                serving = FirstAnswer(f"http://127.0.0.1:{dy_port}/api/items")
                dockyard("deploy", ENV)
                record("dockyard cold (deploy returns)", time.perf_counter() - began)
                record("dockyard cold (app serves data)", serving.wait() - began)
                record("dockyard no-op", timed(lambda: dockyard("deploy", ENV)))
                dockyard("down", ENV, "--volumes")

                began = time.perf_counter()
                serving = FirstAnswer(f"http://127.0.0.1:{dc_port}/api/items")
                compose("up", "-d")
                record("compose cold (up -d returns)", time.perf_counter() - began)
                record("compose cold (app serves data)", serving.wait() - began)
                record("compose no-op", timed(lambda: compose("up", "-d")))
                compose("down", "-v")
        finally:
            dockyard("down", ENV, "--volumes")
            compose("down", "-v")

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"done ({load_average()})")
    print()
    print(f"{'measure':<34}{'median s':>10}   runs")
    for key, value in med.items():
        runs = " ".join(f"{x:.2f}" for x in results[key])
        print(f"{key:<34}{value:>10.2f}   {runs}")
    print()
    print("ratios (dockyard / compose; below 1 means dockyard is faster)")
    pairs = [
        (
            "cold, until the app serves data",
            "dockyard cold (app serves data)",
            "compose cold (app serves data)",
        ),
        (
            "cold, until the command returns",
            "dockyard cold (deploy returns)",
            "compose cold (up -d returns)",
        ),
        ("no-op redeploy", "dockyard no-op", "compose no-op"),
    ]
    for label, a, b in pairs:
        print(f"  {label:<44}{med[a] / med[b]:>6.2f}")


if __name__ == "__main__":
    main()
