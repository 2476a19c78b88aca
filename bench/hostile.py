"""Hostile spec files through `dockyard validate`, with docker-compose as the peer.

Each input is the example with one file made hostile: a "billion laughs" of
YAML aliases, lists nested 5,000 deep, a 50 MB file, and an environment value
of 5 MB; the unchanged example is the baseline. For each, `dockyard validate`
runs as a subprocess and the benchmark prints its wall time, its peak resident
memory (from wait4) and the error it gave, with the ratio to the baseline.

When docker-compose (1.29, Debian's docker-compose package) is installed, the
same inputs written into the example's compose file go through
`docker-compose config -q`, in an address space of 2 GiB and with a timeout,
and its figures are printed as the peer; a run the limit or the timeout stops
is shown as stopped. Compose ignores extension fields nobody uses, so there
the laughs are named by a service's `command`. Nothing here touches the
engine. Figures only, no assertions. Usage: python bench/hostile.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import copy_examples

ENV = "local"
PEER_MEMORY = 2 * 1024**3
PEER_TIMEOUT = 60.0
DOCKYARD_TIMEOUT = 300.0


def laughs(prefix: str) -> str:
    """Ten levels of ten aliases each: 10**10 strings once expanded."""
    lines = [f'{prefix}l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{prefix}l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def laughs_compose(text: str) -> str:
    """The aliases as extension fields, and a service whose command names the last:
    compose reads every service's values (to interpolate ``${VAR}``)."""
    service = "  laughs:\n    image: debian\n    command: *l9\n"
    return _insert_after(laughs("x-") + text, "services:\n", service)


def deep(prefix: str) -> str:
    return f"{prefix}deep: " + "[" * 5000 + "]" * 5000 + "\n"


def huge(_: str) -> str:
    return "# " + "x" * (50 * 1024 * 1024) + "\n"


BIG_VALUE = "x" * (5 * 1024 * 1024)


def _insert_after(text: str, line: str, new: str) -> str:
    if line not in text:
        raise SystemExit(f"the example changed: no line {line!r} to add a value after")
    return text.replace(line, line + new, 1)


def big_value_spec(text: str) -> str:
    """The api spec with a 5 MB value in its main container's env."""
    return _insert_after(text, '      PORT: "8000"\n', f'      BIG: "{BIG_VALUE}"\n')


def big_value_compose(text: str) -> str:
    return _insert_after(text, '    PORT: "8000"\n', f'    BIG: "{BIG_VALUE}"\n')


@dataclass(frozen=True)
class Input:
    name: str
    spec: Callable[[str], str]  # the api's dockyard.yaml, changed
    compose: Callable[[str], str]  # the compose file, changed


def _append(make: Callable[[str], str], prefix: str) -> Callable[[str], str]:
    return lambda text: text + make(prefix)


INPUTS = [
    Input("baseline (the example)", lambda t: t, lambda t: t),
    Input("billion laughs", _append(laughs, "x-"), laughs_compose),
    Input("5,000 levels deep", _append(deep, "x-"), _append(deep, "x-")),
    Input("50 MB file", _append(huge, ""), _append(huge, "")),
    Input("5 MB value", big_value_spec, big_value_compose),
]


@dataclass(frozen=True)
class Result:
    seconds: float
    peak_mib: float
    outcome: str


def measure(cmd: list[str], env: dict[str, str], memory: int | None, timeout: float) -> Result:
    """Run ``cmd``; its wall time, peak RSS (wait4) and what it said or how it ended."""

    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, preexec_fn=limit)
        killed = threading.Event()

        def stop() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        timed_out = killed.is_set()
        out.seek(0)
        said = out.read().decode("utf-8", errors="replace")
    return Result(seconds, usage.ru_maxrss / 1024, _outcome(proc.returncode, said, timed_out))


def _outcome(code: int, said: str, timed_out: bool) -> str:
    if timed_out:
        return f"stopped by the {PEER_TIMEOUT:.0f}s timeout"
    if "MemoryError" in said or code in (-9, 137):
        return "stopped by the memory limit (MemoryError)"
    if "RecursionError" in said:
        return f"exit {code}: RecursionError"
    found = re.search(r"error\[(DY\d+)\][^\n]*\n\s*--> (\S+)", said)
    if found:
        return f"exit {code}: {found.group(1)} at {Path(found.group(2)).name}"
    lines = [line for line in said.splitlines() if line.strip()]
    return f"exit {code}: {lines[-1][:60] if lines else 'no output'}"


def median(results: list[Result]) -> Result:
    return Result(
        statistics.median(r.seconds for r in results),
        statistics.median(r.peak_mib for r in results),
        results[-1].outcome,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    compose_bin = shutil.which("docker-compose")
    rows: list[tuple[str, str, Result]] = []
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-hostile-") as tmpdir:
        tmp = Path(tmpdir)
        repo = copy_examples(tmp)
        spec_file = repo.parent / "services" / "api" / "dockyard.yaml"
        compose_file = repo.parent / "compose" / "docker-compose.yml"
        spec_text, compose_text = spec_file.read_text(), compose_file.read_text()
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        compose_env = {**env, "WEB_PORT": "18080", "COMPOSE_PROJECT_NAME": "dockyardhostile"}
        for item in INPUTS:
            print(f"{item.name} ...", flush=True)
            spec_file.write_text(item.spec(spec_text))
            compose_file.write_text(item.compose(compose_text))
            dockyard = [sys.executable, "-m", "dockyard", "-C", str(repo), "validate", ENV]
            runs = [measure(dockyard, env, None, DOCKYARD_TIMEOUT) for _ in range(args.runs)]
            rows.append((item.name, "dockyard", median(runs)))
            if compose_bin is not None:
                cmd = [compose_bin, "-f", str(compose_file), "config", "-q"]
                runs = [
                    measure(cmd, compose_env, PEER_MEMORY, PEER_TIMEOUT) for _ in range(args.runs)
                ]
                rows.append((item.name, "compose", median(runs)))
    base = {tool: r for name, tool, r in rows if name == INPUTS[0].name}
    print()
    print(f"medians of {args.runs} runs; ratios are to the same tool's baseline")
    header = f"{'input':<24}{'tool':<10}{'wall s':>8}{'x base':>8}{'peak MiB':>10}{'x base':>8}"
    print(f"{header}  outcome")
    for name, tool, r in rows:
        b = base[tool]
        print(
            f"{name:<24}{tool:<10}{r.seconds:>8.2f}{r.seconds / b.seconds:>8.1f}"
            f"{r.peak_mib:>10.0f}{r.peak_mib / b.peak_mib:>8.1f}  {r.outcome}"
        )
    if compose_bin is None:
        print("\n(docker-compose is not installed: apt-get install docker-compose for the peer)")
    else:
        print(
            f"\n(compose: `docker-compose config -q` with RLIMIT_AS {PEER_MEMORY // 1024**3} GiB "
            f"and a {PEER_TIMEOUT:.0f}s timeout)"
        )


if __name__ == "__main__":
    main()
