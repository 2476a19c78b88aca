"""A process that takes a deploy lock, for the lock tests.

Usage: ``python holder.py '<json>'`` with url, password_env, repo, env, lease,
actor and, optionally, ``current`` (hold as this very process, with its start
time and pid namespace, as a deploy does; else as host ``test-host``). It opens
the store and prints ``{"ready": true}``; on a line on stdin (a delay in
seconds) it waits that long, tries to take the lock once, and prints what
happened; it releases the lock and exits when stdin closes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from dockyard.spec.environment import StateConfig
from dockyard.state import LockHeld, LockHolder, open_store


def main() -> None:
    spec = json.loads(sys.argv[1])
    config = StateConfig(url=spec["url"], password_env=spec["password_env"])
    with open_store(config, Path(spec["repo"])) as store:
        print(json.dumps({"ready": True}), flush=True)
        delay = float(sys.stdin.readline())
        time.sleep(delay)
        if spec.get("current"):
            holder = LockHolder.current("release", actor=spec["actor"])
        else:
            holder = LockHolder(
                actor=spec["actor"], host="test-host", pid=os.getpid(), command="release"
            )
        try:
            lock = store.acquire_lock(spec["env"], holder, spec["lease"])
        except LockHeld as e:
            print(
                json.dumps({"won": False, "holder_pid": e.info.holder.pid, "message": str(e)}),
                flush=True,
            )
            lock = None
        else:
            took_over = lock.took_over.holder.pid if lock.took_over else None
            print(json.dumps({"won": True, "pid": os.getpid(), "took_over": took_over}), flush=True)
        sys.stdin.read()  # until the test closes it
        if lock is not None:
            store.release(lock)


if __name__ == "__main__":
    main()
