"""What delivering secrets costs when a task starts, against docker-compose, in one run.

Three ways to start one container (`sleep infinity` in the base image) that
gets two secrets as files under /run/secrets, each timed from the call until the
container runs:

- Dockyard, no secrets: ``DockerEngine.start_task`` of the container alone;
- Dockyard, two secrets: the same with two secrets (a tmpfs volume, its keeper,
  the files written through the engine API): the cost of keeping them in memory;
- docker-compose, two file secrets: ``docker-compose up -d`` of the same
  container with ``secrets: {x: {file: ...}}``, which bind-mounts plaintext files
  from the disk of the machine that runs compose.

Prints each run, the medians and the ratios. Everything it creates is removed at
the end, also on failure; nothing is sent anywhere. Usage:

  python bench/secret_delivery.py [--runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml
from common import load_average

from dockyard.engines.docker import DockerEngine
from dockyard.engines.model import SecretValues
from dockyard.plan.model import (
    ContainerDef,
    DesiredState,
    SecretDef,
    ServiceDef,
    TaskDef,
    network_name,
)

BASE_IMAGE = "dockyard/base:bookworm"
LABEL = "dockyard.bench"


def service(with_secrets: bool) -> tuple[ServiceDef, SecretValues]:
    defs = [SecretDef(name=f"s{i}", scope="", version=f"v{i}") for i in range(2)]
    container = ContainerDef(
        name="idle",
        image=BASE_IMAGE,
        command=["sleep", "infinity"],
        stop_grace=0.0,
        secrets=defs if with_secrets else [],
    )
    values = SecretValues({("", d.name, d.version): secrets.token_bytes(32) for d in defs})
    return ServiceDef(name="idle", task=TaskDef(containers=[container])), values


def dockyard_start(engine: DockerEngine, env: str, with_secrets: bool) -> float:
    svc, values = service(with_secrets)
    desired = DesiredState(
        environment=env,
        network=network_name(env),
        services=[svc],
        labels={LABEL: env},
        helper_image=BASE_IMAGE,
    )
    engine.ensure_network(desired)
    began = time.perf_counter()
    task = engine.start_task(desired, svc, 0, "1", values)
    seconds = time.perf_counter() - began
    engine.remove_task(task)
    return seconds


def compose_start(folder: Path, project: str) -> float:
    for i in range(2):
        path = folder / f"s{i}"
        path.write_bytes(secrets.token_bytes(32))
        os.chmod(path, 0o400)
    spec = {
        "services": {
            "idle": {
                "image": BASE_IMAGE,
                "command": ["sleep", "infinity"],
                "labels": {LABEL: project},
                "secrets": ["s0", "s1"],
            }
        },
        "secrets": {f"s{i}": {"file": f"./s{i}"} for i in range(2)},
    }
    (folder / "docker-compose.yml").write_text(yaml.safe_dump(spec))
    command = ["docker-compose", "-p", project, "-f", str(folder / "docker-compose.yml")]
    began = time.perf_counter()
    subprocess.run([*command, "up", "-d"], check=True, capture_output=True)
    seconds = time.perf_counter() - began
    subprocess.run([*command, "down", "-t", "0"], check=True, capture_output=True)
    return seconds


@contextlib.contextmanager
def cleaned(engine: DockerEngine, env: str) -> Iterator[None]:
    try:
        yield
    finally:
        api = engine.api
        for c in api.containers(all=True, filters={"label": f"{LABEL}={env}"}):
            api.remove_container(c["Id"], force=True, v=True)
        for v in (api.volumes(filters={"label": f"{LABEL}={env}"}) or {}).get("Volumes") or []:
            api.remove_volume(v["Name"], force=True)
        with contextlib.suppress(Exception):
            engine.remove_network(env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if shutil.which("docker-compose") is None:
        sys.exit("docker-compose is needed: scripts/bootstrap.sh --bench")
    env = f"bsec{secrets.token_hex(3)}"
    engine = DockerEngine()
    results: dict[str, list[float]] = {
        "dockyard": [],
        "dockyard+secrets": [],
        "compose+secrets": [],
    }
    with tempfile.TemporaryDirectory() as tmp, cleaned(engine, env):
        dockyard_start(engine, env, True)  # warm-up
        for run in range(args.runs):
            results["dockyard"].append(dockyard_start(engine, env, False))
            results["dockyard+secrets"].append(dockyard_start(engine, env, True))
            results["compose+secrets"].append(compose_start(Path(tmp), f"{env}c{run}"))
            print(
                f"run {run + 1}: "
                + ", ".join(f"{k} {v[-1] * 1000:.0f} ms" for k, v in results.items()),
                flush=True,
            )
    medians = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n{load_average()}; medians over {args.runs} runs:")
    for name, value in medians.items():
        print(f"  {name:18} {value * 1000:7.0f} ms")
    plain, kept, compose = (
        medians["dockyard"],
        medians["dockyard+secrets"],
        medians["compose+secrets"],
    )
    print(f"  two secrets in memory cost {(kept - plain) * 1000:.0f} ms ({kept / plain:.2f}x)")
    print(f"  dockyard+secrets / compose+secrets (plaintext on disk): {kept / compose:.2f}x")


if __name__ == "__main__":
    main()
