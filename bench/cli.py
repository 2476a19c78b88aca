"""Start-up of the command line, against docker-compose and the docker CLI, in one run.

Measures, as a user runs them, each a new process:
  --version  - `dockyard --version`
  --help     - `dockyard --help`
  validate   - `dockyard validate local` on a copy of examples/ (loads and checks
               every spec; touches no engine); its peer is `docker-compose config -q`
               on the same example written for compose, which parses and checks it
  TAB        - what a TAB costs in a shell that loaded `dockyard completion`:
               `dockyard __complete plan local ''`, the services of `local`

The peers are docker-compose 1.29 (Python, like Dockyard) and the docker CLI
(Go). Every command runs once to warm up (page cache, compiled bytecode, which
is written even where PYTHONDONTWRITEBYTECODE is set), then --runs times, the
tools taking turns so that a change of the machine's load touches them alike.
Prints the median and the minimum of the wall-clock times, the median CPU time
(user and system, which others' load on the machine changes less), the load
average, and the ratios of Dockyard to its peers.
The goals: --help within 0.3 s and below docker-compose's, validate within 0.5 s.

Usage: python bench/cli.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import EXAMPLES, copy_examples

COMPOSE_FILE = EXAMPLES / "compose" / "docker-compose.yml"
GOALS = {"dockyard --help": 0.3, "dockyard validate local": 0.5}
# As installed, Python tools read their modules' cached bytecode: the warm-up writes it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def dockyard_program() -> list[str]:
    """The ``dockyard`` command installed beside this interpreter, else ``-m dockyard``."""
    script = Path(sys.executable).parent / "dockyard"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dockyard"]


def measures(repo: Path) -> dict[str, list[str]]:
    """Each measure's name and command line; peers that are not installed are left out."""
    dockyard = [*dockyard_program(), "-C", str(repo)]
    tab = [*dockyard_program(), "__complete"]
    found = {
        "dockyard --version": [*dockyard, "--version"],
        "dockyard --help": [*dockyard, "--help"],
        "dockyard validate local": [*dockyard, "validate", "local"],
        "dockyard TAB (services)": [*tab, "-C", str(repo), "plan", "local", ""],
    }
    compose = shutil.which("docker-compose")
    if compose is not None:
        found["docker-compose --version"] = [compose, "--version"]
        found["docker-compose --help"] = [compose, "--help"]
        found["docker-compose config -q"] = [compose, "-f", str(COMPOSE_FILE), "config", "-q"]
    docker = shutil.which("docker")
    if docker is not None:
        found["docker --version"] = [docker, "--version"]
        found["docker --help"] = [docker, "--help"]
    return found


def timed(command: list[str]) -> tuple[float, float]:
    """The wall-clock and the CPU seconds (user and system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=ENV)
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        repo = copy_examples(Path(tmpdir))
        commands = measures(repo)
        for command in commands.values():  # warm-up
            timed(command)
        results: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                seconds, used = timed(command)
                results[name].append(seconds)
                cpu[name].append(used)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"dockyard: {' '.join(dockyard_program())}; {args.runs} runs each; load {load}")
    for peer in ("docker-compose", "docker"):
        if not any(name.startswith(f"{peer} ") for name in results):
            print(f"{peer} is not installed: its rows are left out")
    med = {name: statistics.median(times) for name, times in results.items()}
    print()
    print(f"{'measure':<28}{'median s':>10}{'min s':>9}{'median cpu s':>14}")
    for name, times in results.items():
        used = statistics.median(cpu[name])
        print(f"{name:<28}{med[name]:>10.3f}{min(times):>9.3f}{used:>14.3f}")
    print()
    print("ratios of the medians (dockyard / peer; below 1 means dockyard is faster)")
    pairs = [
        ("--version", "dockyard --version", "docker-compose --version"),
        ("--version", "dockyard --version", "docker --version"),
        ("--help", "dockyard --help", "docker-compose --help"),
        ("--help", "dockyard --help", "docker --help"),
        ("validate / config -q", "dockyard validate local", "docker-compose config -q"),
    ]
    for label, ours, theirs in pairs:
        if theirs in med:
            peer = theirs.split()[0]
            print(f"  {label:<22}vs {peer:<16}{med[ours] / med[theirs]:>6.2f}")
    print()
    for name, goal in GOALS.items():
        verdict = "met" if med[name] <= goal else "NOT met"
        print(f"goal: {name} within {goal} s (median): {verdict}")
    if "docker-compose --help" in med:
        below = med["dockyard --help"] < med["docker-compose --help"]
        print(f"goal: dockyard --help below docker-compose --help: {'met' if below else 'NOT met'}")


if __name__ == "__main__":
    main()
