"""When the engine says containers got SIGTERM, started, turned healthy and exited,
read from its event stream while a test runs (the engine keeps only its last 256
events for later questions, too few on a busy machine)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import docker

from .support import TEST_RUN_LABEL, Run


@dataclass
class Moments:
    """One container's moments, in the engine's nanoseconds."""

    started: list[int] = field(default_factory=list)
    terminated: list[int] = field(default_factory=list)  # SIGTERM sent
    healthy: list[int] = field(default_factory=list)
    died: list[int] = field(default_factory=list)


@contextmanager
def recorded(client: docker.DockerClient, run: Run) -> Iterator[dict[str, Moments]]:
    """The moments of the containers of ``run``, by container name, as they come
    while the block runs (and until the stream closes, right after it)."""
    found: dict[str, Moments] = {}
    lock = threading.Lock()
    stream = client.events(
        decode=True, filters={"type": "container", "label": f"{TEST_RUN_LABEL}={run.id}"}
    )

    def read() -> None:
        try:
            for event in stream:
                attributes = event["Actor"]["Attributes"]
                action, at = event["Action"], int(event["timeNano"])
                with lock:
                    seen = found.setdefault(attributes["name"], Moments())
                    if action == "start":
                        seen.started.append(at)
                    elif action == "kill" and attributes.get("signal") == "15":
                        seen.terminated.append(at)
                    elif action == "health_status: healthy":
                        seen.healthy.append(at)
                    elif action == "die":
                        seen.died.append(at)
        except Exception:  # the stream closed under the reader
            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield found
    finally:
        stream.close()
        reader.join(10)
