"""The supervisor accessory's definition: one small container per environment that
starts again what should run. Pure; the image and the program are in
``dockyard.supervise``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, MutableMapping

from dockyard.errors import SpecError
from dockyard.plan.model import ContainerDef, HealthDef, MountDef, ServiceDef, TaskDef

SUPERVISOR_SERVICE = "supervisor"
"""The name of the supervisor service (an accessory) in every environment."""
SUPERVISOR_CONTAINER = "supervisor"
DOCKER_SOCKET = "/var/run/docker.sock"
"""The engine's API socket, on the engine's host and inside the container."""
HEARTBEAT = "/tmp/dockyard-supervisor.alive"
"""A file the supervisor touches after every pass over the environment."""
HEARTBEAT_MAX_AGE = 90
"""Seconds without a pass after which the supervisor counts as unhealthy."""
RECONCILE_EVERY = 30
"""Seconds between two full passes when no event comes."""
STOP_GRACE = 2.0

HEALTH = HealthDef(
    test=[
        "CMD",
        "python3",
        "-c",
        f"import os, sys, time; "
        f"sys.exit(time.time() - os.stat('{HEARTBEAT}').st_mtime > {HEARTBEAT_MAX_AGE})",
    ],
    interval=2.0,
    timeout=2.0,
    retries=3,
    start_period=10.0,
)
"""Healthy while the supervisor keeps making its passes. Docker runs the first check
one interval after the start, which is when a deploy sees it ready."""


def supervisor_service(environment: str, image: str, every: float = RECONCILE_EVERY) -> ServiceDef:
    """The supervisor accessory of ``environment``: one container that talks to the
    engine through its socket, makes a full pass every ``every`` seconds besides the
    one after each event, restarts ``always``, and depends on nothing."""
    container = ContainerDef(
        name=SUPERVISOR_CONTAINER,
        image=image,
        command=["python3", "/usr/local/lib/dockyard/supervisor.py"],
        env={
            "DOCKYARD_ENVIRONMENT": environment,
            "DOCKYARD_RECONCILE_EVERY": f"{every:g}",
            "DOCKYARD_HEARTBEAT": HEARTBEAT,
        },
        health=HEALTH,
        memory=64 * 1024**2,
        mounts=[MountDef(target=DOCKER_SOCKET, source=DOCKER_SOCKET)],
        stop_grace=STOP_GRACE,
    )
    return ServiceDef(
        name=SUPERVISOR_SERVICE,
        kind="accessory",
        task=TaskDef(containers=[container], restart="always", aliases=[]),
        replicas=1,
        max_surge=0,
        max_unavailable=1,
    )


def add_supervisor(
    services: MutableMapping[str, ServiceDef],
    environment: str,
    images: Mapping[str, str],
    only: Collection[str] | None = None,
) -> None:
    """Add the supervisor to ``services`` (a deploy of the whole environment, or one
    that names it in ``only``). ``images`` must hold its image under its name."""
    if only is not None and SUPERVISOR_SERVICE not in only:
        return
    image = own_image(services, images, SUPERVISOR_SERVICE, "the environment's supervisor")
    services[SUPERVISOR_SERVICE] = supervisor_service(environment, image)


def own_image(
    services: Mapping[str, ServiceDef],
    images: Mapping[str, str],
    name: str,
    what: str,
    hint: str = "Rename it.",
) -> str:
    """The image of Dockyard's own accessory ``name`` (``what`` it is), which no
    service or accessory of the spec may be called."""
    if name in services:
        raise SpecError(
            f"a service or accessory cannot be called {name}: {what} has that name", hint=hint
        )
    image = images.get(name)
    if image is None:
        raise SpecError(
            f"no image was built for {name!r}", hint="build the environment's images first"
        )
    return image
