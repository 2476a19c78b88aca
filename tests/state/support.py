"""Helpers of the state store tests: waiting on conditions, and child processes
that take deploy locks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dockyard.spec.environment import StateConfig
from dockyard.state import LockHolder
from dockyard.state.liveness import pid_space, start_time

T = TypeVar("T")

HOLDER = Path(__file__).with_name("holder.py")


def eventually(check: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


@dataclass
class LockProcess:
    """A child process that opens the store, and on ``go()`` tries to take a lock."""

    process: subprocess.Popen[str]

    @classmethod
    def start(
        cls,
        config: StateConfig,
        repo: Path,
        env: str,
        lease: float,
        actor: str,
        *,
        current: bool = False,
    ) -> LockProcess:
        spec = {
            "url": config.url,
            "password_env": config.password_env,
            "repo": str(repo),
            "env": env,
            "lease": lease,
            "actor": actor,
            "current": current,
        }
        process = subprocess.Popen(
            [sys.executable, str(HOLDER), json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return cls(process)

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the lock process exited ({self.process.wait()}) early")
        message: dict[str, Any] = json.loads(line)
        return message

    def wait_ready(self) -> None:
        assert self.read() == {"ready": True}

    def go(self, delay: float = 0.0) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{delay}\n")
        self.process.stdin.flush()

    def finish(self) -> int:
        """Close its stdin (it releases what it holds and exits); its exit status."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def sleeper() -> subprocess.Popen[bytes]:
    """A real child process that does nothing until it is killed."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def holder_of(process: subprocess.Popen[bytes], actor: str) -> LockHolder:
    """``process`` as a deploy running it would record itself: same host, its pid,
    its start time and this pid namespace."""
    started = start_time(process.pid)
    assert started is not None
    return LockHolder(
        actor=actor,
        host=socket.gethostname(),
        pid=process.pid,
        command="release",
        started=started,
        space=pid_space(),
    )


def dead_holder(actor: str = "victim@host") -> LockHolder:
    """The holder record of a process that ran on this host and is now dead: a
    child started, recorded, killed and reaped."""
    process = sleeper()
    try:
        holder = holder_of(process, actor)
    finally:
        process.kill()
        process.wait(timeout=30)  # reaped: its pid is gone
    return holder
