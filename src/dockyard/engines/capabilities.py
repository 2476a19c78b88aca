"""Which of the engine protocols an engine has, and the error when one is missing.

An engine either has a capability, every method of it working, or lacks it
entirely; it never has a method that half-works. What it has is read from the
methods it offers, so it cannot say one thing and do another.
"""

from __future__ import annotations

from typing import Literal

from dockyard.engines.access import Attaching, ContainerAccess, ContainerLogs
from dockyard.engines.converge import ConvergesServices
from dockyard.engines.environment import Environments
from dockyard.engines.errors import EngineUnsupported
from dockyard.engines.images import Images
from dockyard.engines.oneoff import OneOffs
from dockyard.engines.replicas import Replicas

Capability = Literal[
    "environments",
    "replicas",
    "services",
    "images",
    "one-off tasks",
    "container access",
    "attached commands",
    "logs",
]

SEAMS: dict[Capability, tuple[type, str]] = {
    "environments": (Environments, "report what runs and keep networks and volumes"),
    "replicas": (Replicas, "start, check and remove one replica at a time"),
    "services": (ConvergesServices, "roll services out itself"),
    "images": (Images, "build, pull, push and remove images"),
    "one-off tasks": (OneOffs, "run one-off tasks"),
    "container access": (ContainerAccess, "run commands in containers and read their logs"),
    "attached commands": (Attaching, "run a command attached to this terminal"),
    "logs": (ContainerLogs, "read its containers' output with timestamps, and follow it"),
}
"""Each capability: the protocol that makes it, and what it lets an engine do."""


def capabilities(engine: object) -> frozenset[Capability]:
    """What ``engine`` can do: the capabilities whose every method it offers."""
    return frozenset(name for name, (seam, _) in SEAMS.items() if isinstance(engine, seam))


def unsupported(engine: object, capability: Capability, hint: str) -> EngineUnsupported:
    """The error for asking ``engine`` what it cannot do, naming what it can."""
    name = str(getattr(engine, "name", None) or type(engine).__name__)
    has = sorted(capabilities(engine))
    can = f" (it can: {', '.join(has)})" if has else ""
    return EngineUnsupported(
        f"the {name} engine cannot {SEAMS[capability][1]}{can}",
        engine=name,
        capability=capability,
        hint=hint,
    )
