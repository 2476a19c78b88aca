"""Release timings: a full release, a no-op release, and a promotion (no build),
against a real registry, plus the time Dockyard adds on top of the engine's work.

Every engine call (build, push, pull, container start, readiness wait, removal,
observation, the ingress's admin API) is timed through a proxy around the
engine; "waiting" is Dockyard sleeping outside engine calls (a new replica's
watch window, drain polls); "dockyard's own time" is the rest: loading and
validating specs, git versions, planning, the state store and the deploy lock.
Runs in one process, so interpreter start-up is excluded (it is printed
separately). Traffic goes only to 127.0.0.1.

Usage: python bench/release.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import add_environment, copy_examples  # noqa: E402

from dockyard.deploy.ops import down  # noqa: E402
from dockyard.deploy.release import promote, release  # noqa: E402
from dockyard.deploy.target import Target  # noqa: E402
from dockyard.engines import engine_for  # noqa: E402
from dockyard.spec import load_environment  # noqa: E402
from dockyard.state import open_store  # noqa: E402
from tests.fixtures.registry import start_registry  # noqa: E402

PASSWORD_ENV = "DOCKYARD_BENCH_REGISTRY_PASSWORD"
ENGINE_CALLS = (
    "build",
    "push",
    "pull",
    "tag",
    "start_task",
    "wait_ready",
    "remove_task",
    "observe",
    "ensure_network",
    "ensure_volume",
    "image_id",
    "image_present",
    "run_oneoff",
    "remove_oneoffs",
    "exec",
)


class Waits:
    """Seconds Dockyard sleeps outside engine calls: watch windows and drain polls
    (a sleep inside an engine call, such as a readiness poll, is engine time)."""

    seconds = 0.0
    in_engine = threading.local()
    _sleep = time.sleep

    @classmethod
    def install(cls) -> None:
        def sleep(seconds: float) -> None:
            began = time.perf_counter()
            cls._sleep(seconds)
            if not getattr(cls.in_engine, "depth", 0):
                cls.seconds += time.perf_counter() - began

        time.sleep = sleep


class TimedEngine:
    """Forwards to an engine and adds up the seconds spent in each call."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.seconds: dict[str, float] = defaultdict(float)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._engine, name)
        if name not in ENGINE_CALLS:
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            Waits.in_engine.depth = getattr(Waits.in_engine, "depth", 0) + 1
            try:
                return attr(*args, **kwargs)
            finally:
                Waits.in_engine.depth -= 1
                self.seconds[name] += time.perf_counter() - began

        return timed

    def reset(self) -> None:
        self.seconds.clear()


def git(folder: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, env=env)


def prepare(tmp: Path, registry_url: str, username: str) -> Path:
    repo = copy_examples(tmp)
    root = repo.parent
    for name, port in (("benchstaging", 18781), ("benchprod", 18782)):
        registry = {"url": f"{registry_url}/{name}", "username": username}
        add_environment(repo, name, port, registry={**registry, "password_env": PASSWORD_ENV})
    (root / ".gitignore").write_text(".dockyard/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "bench")
    return repo


def change_api(repo: Path, n: int) -> None:
    api = repo.parent / "services" / "api" / "api.py"
    api.write_text(api.read_text() + f"\n# bench change {n}\n")
    git(repo.parent, "commit", "-qam", f"change {n}")


@contextmanager
def measured(
    engine: TimedEngine, results: dict[str, list[tuple[float, float, float]]], key: str
) -> Iterator[None]:
    engine.reset()
    Waits.seconds = 0.0
    began = time.perf_counter()
    yield
    total = time.perf_counter() - began
    results[key].append((total, sum(engine.seconds.values()), Waits.seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    Waits.install()

    with start_registry() as server, tempfile.TemporaryDirectory() as tmpdir:
        os.environ[PASSWORD_ENV] = server.password
        repo = prepare(Path(tmpdir), server.url, server.username)

        def target(name: str) -> tuple[Target, TimedEngine]:
            env = load_environment(repo, name)
            engine = TimedEngine(engine_for(env.spec.engine))
            return Target(env, engine, open_store(env.spec.state, repo)), engine  # type: ignore[arg-type]

        staging, staging_engine = target("benchstaging")
        prod, prod_engine = target("benchprod")
        quiet: Callable[[Any], None] = lambda _e: None  # noqa: E731
        try:
            print(
                "warming up: first release of both environments (pushes the base layers) ...",
                flush=True,
            )
            release(staging, report=quiet)
            release(prod, report=quiet)
            for i in range(args.runs):
                print(f"run {i + 1}/{args.runs}", flush=True)
                change_api(repo, i)
                staging, staging_engine = target("benchstaging")
                with measured(staging_engine, results, "full release (api changed)"):
                    release(staging, report=quiet)
                with measured(staging_engine, results, "no-op release"):
                    release(staging, report=quiet)
                with measured(prod_engine, results, "promote staging -> prod"):
                    promote(staging, prod, report=quiet)
        finally:
            for t in (staging, prod):
                down(t.engine, t.env.name, volumes=True)
        cli = []
        for _ in range(5):
            began = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "dockyard", "--version"], check=True, capture_output=True
            )
            cli.append(time.perf_counter() - began)

    print()
    print(
        f"{'measure':<30}{'median s':>9}{'engine s':>10}{'waiting s':>11}"
        f"{'dockyard s':>12}{'dockyard %':>12}"
    )
    medians: dict[str, float] = {}
    for key, runs in results.items():
        total = statistics.median(t for t, _, _ in runs)
        engine = statistics.median(e for _, e, _ in runs)
        waiting = statistics.median(w for _, _, w in runs)
        medians[key] = total
        own = total - engine - waiting
        print(
            f"{key:<30}{total:>9.2f}{engine:>10.2f}{waiting:>11.2f}"
            f"{own:>12.2f}{100 * own / total:>11.0f}%"
        )
    print("  (waiting: watch windows and drain polls, outside engine calls)")
    full = medians["full release (api changed)"]
    print()
    print("ratios against a full release (below 1 is faster)")
    print(f"  no-op release / full release        {medians['no-op release'] / full:6.2f}")
    print(f"  promote / full release              {medians['promote staging -> prod'] / full:6.2f}")
    print(f"command-line start-up (dockyard --version, median of 5): {statistics.median(cli):.2f}s")


if __name__ == "__main__":
    main()
