"""What the benchmarks share: a copy of the example, a free port on 127.0.0.1,
waiting for a URL, and the machine's load average to print beside the figures."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


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
