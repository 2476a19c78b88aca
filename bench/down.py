"""`dockyard down` of tasks whose processes ignore SIGTERM, in one run.

An environment of one service, `idle`, whose replicas run `sleep infinity` as
their only process: as PID 1 it ignores SIGTERM, so each replica runs until the
SIGKILL at the end of its stop grace period. `dockyard down` stops the replicas
at the same time, so it should take about one grace period (then the
environment's supervisor, an accessory that stops at once), not one per
replica.

For each run: deploy (not timed), then time `dockyard down ENV` until it returns.
Prints each run, the median, and the ratio to one grace period and to the sum of
the replicas' grace periods. Everything the bench creates is removed at the end,
also on failure; nothing is sent anywhere. Usage:

  python bench/down.py [--runs N] [--replicas N] [--grace SECONDS]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import load_average

BASE_IMAGE = "dockyard/base:bookworm"


def write_repo(tmp: Path, env: str, replicas: int, grace: float) -> Path:
    """An environment repo with the `idle` service; returns the repo's folder."""
    repo = tmp / "platform"
    (repo / "environments").mkdir(parents=True)
    service = tmp / "services" / "idle"
    service.mkdir(parents=True)
    (repo / "environments" / f"{env}.yaml").write_text(
        yaml.safe_dump(
            {
                "environment": env,
                "engine": {"kind": "docker"},
                "ingress": {"base_image": BASE_IMAGE},  # the supervisor's image is built FROM it
                "services": [{"name": "idle", "source": "../../services/idle"}],
            },
            sort_keys=False,
        )
    )
    (service / "dockyard.yaml").write_text(
        yaml.safe_dump(
            {
                "service": "idle",
                "containers": {
                    "idle": {
                        "image": BASE_IMAGE,
                        "command": ["sleep", "infinity"],
                        "stop_grace": f"{grace:g}s",
                    }
                },
                "deploy": {"replicas": replicas},
            },
            sort_keys=False,
        )
    )
    return repo


def dockyard(repo: Path, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dockyard", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    if proc.returncode != 0:
        raise SystemExit(f"dockyard {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=5)
    parser.add_argument("--grace", type=float, default=10.0)
    args = parser.parse_args()
    env = f"down{secrets.token_hex(3)}"
    seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmpdir:
        repo = write_repo(Path(tmpdir), env, args.replicas, args.grace)
        try:
            for i in range(args.runs):
                dockyard(repo, "deploy", env)
                began = time.perf_counter()
                dockyard(repo, "down", env, "--volumes")
                seconds.append(time.perf_counter() - began)
                print(
                    f"run {i + 1}/{args.runs}: down took {seconds[-1]:.2f}s ({load_average()})",
                    flush=True,
                )
        finally:
            subprocess.run(
                [sys.executable, "-m", "dockyard", "-C", str(repo), "down", env, "--volumes"],
                capture_output=True,
            )
    median = statistics.median(seconds)
    total = args.replicas * args.grace
    print()
    print(f"{args.replicas} replicas ignoring SIGTERM, stop grace {args.grace:g}s each")
    print(
        f"  down, median of {len(seconds)}: {median:.2f}s ({' '.join(f'{s:.2f}' for s in seconds)})"
    )
    print(f"  / one grace period ({args.grace:g}s): {median / args.grace:.2f}")
    print(f"  / the sum of the grace periods ({total:g}s): {median / total:.2f}")


if __name__ == "__main__":
    main()
