"""The engine's own check that a data volume never gets two writers.

The planner already orders replacements of a task that writes a named volume
stop-first (``dockyard.plan.diff.rollout_order``). This is the last line: right
before a container starts, the engine lists the running containers that mount
each volume it would write, and refuses when one of another task mounts it
writable. It holds whatever the plan said — a bug, a second deploy tool, or a
container started by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import docker

from dockyard.errors import DeployError
from dockyard.plan.model import LABEL_TASK


def check_no_writer(api: docker.APIClient, starting: str, volumes: Iterable[str]) -> None:
    """Raise DeployError when a running container of a task other than ``starting``
    mounts one of ``volumes`` writable."""
    for volume in volumes:
        for summary in api.containers(filters={"volume": volume}):
            labels = summary.get("Labels") or {}
            if labels.get(LABEL_TASK) == starting:
                continue
            if not _writes(summary, volume):
                continue
            names = summary.get("Names") or [summary["Id"][:12]]
            holder = names[0].lstrip("/")
            raise DeployError(
                f"refusing to start {starting}: volume {volume} is in use by the running "
                f"container {holder}, and two writers on one data volume corrupt it",
                hint=f"stop {holder} first (`dockyard down` for the environment's own "
                "containers), or mark every mount of the volume `shared: true` if its "
                "programs lock their files across containers",
            )


def _writes(summary: dict[str, Any], volume: str) -> bool:
    for mount in summary.get("Mounts") or []:
        if mount.get("Name") == volume:
            return bool(mount.get("RW", True))
    return True  # listed for this volume but no detail: assume the worst
