"""Running a command in a running container (``docker exec``) and collecting its result.

The command runs without a terminal and without standard input; its standard
output and error come back as one text, in the order the engine recorded
them. It is meant for short commands: the engine's operation timeout bounds
the wait for the output.
"""

from __future__ import annotations

import time

import docker

EXIT_CODE_WAIT = 5.0
"""Seconds to wait for the engine to record the exit code once the output has ended."""
POLL_INTERVAL = 0.02


def exec_in(api: docker.APIClient, container_id: str, argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` in the container; returns its exit code and combined output."""
    created = api.exec_create(container_id, argv, stdout=True, stderr=True, stdin=False, tty=False)
    exec_id = created["Id"]
    raw = api.exec_start(exec_id, tty=False, stream=False, demux=False)
    output = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    return _exit_code(api, exec_id), output


def _exit_code(api: docker.APIClient, exec_id: str) -> int:
    """The output ends as the process exits, and the engine records the exit code
    a moment later; until it does, inspect says it still runs."""
    deadline = time.monotonic() + EXIT_CODE_WAIT
    while True:
        info = api.exec_inspect(exec_id)
        code = info.get("ExitCode")
        if not info.get("Running") and code is not None:
            return int(code)
        if time.monotonic() >= deadline:
            return -1
        time.sleep(POLL_INTERVAL)
