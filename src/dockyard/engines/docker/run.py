"""Creating a task's containers: a main container on the environment's network
and sidecars that join its network namespace.

The main container is reachable on the environment network under the service's
name (a network alias, also its hostname), or under the aliases the service
lists instead (then its hostname is the engine's default). A sidecar runs with
``network_mode=container:<main>``: it shares the main's interfaces, reaches it on
127.0.0.1, and cannot publish ports or set a hostname of its own.
"""

from __future__ import annotations

import contextlib
import math
from functools import partial
from typing import Any

import docker
import docker.errors
from docker.types import LogConfig, Mount

from dockyard.engines.docker import observe
from dockyard.engines.docker.connection import is_conflict
from dockyard.engines.docker.labels import container_labels, task_filter
from dockyard.errors import EngineError
from dockyard.parallel import together
from dockyard.plan.model import (
    LABEL_ENV,
    LABEL_ROLE,
    ActualContainer,
    ActualTask,
    ContainerDef,
    DesiredState,
    HealthDef,
    LogDef,
    MountDef,
    PortDef,
    ServiceDef,
)

CreateArgs = dict[str, Any]
"""Keyword arguments of ``APIClient.create_container``."""

NANO = 1_000_000_000
DEFAULT_STOP_GRACE = 10.0
"""Seconds a container whose task recorded no definition gets between SIGTERM and SIGKILL."""


def create_args(
    api: docker.APIClient,
    desired: DesiredState,
    service: ServiceDef,
    container: ContainerDef,
    *,
    replica: int,
    release: str,
    task: str,
    main_id: str | None = None,
) -> CreateArgs:
    """What to create for ``container``; sidecars need the main's id in ``main_id``.
    A main container of a task that ``joins`` another container shares that one's
    network namespace, as a sidecar does."""
    sidecar = main_id is not None
    joined = main_id if sidecar else service.task.joins
    host = service.task.host_network and not sidecar
    args = container_args(
        api,
        container,
        name=f"{task}-{container.name}" if sidecar else task,
        labels=container_labels(
            desired, service, container, replica=replica, release=release, task=task
        ),
        network_mode=f"container:{joined}" if joined else "host" if host else desired.network,
        port_bindings=None if joined or host else _port_bindings(container.ports),
        restart_policy={"Name": service.task.restart, "MaximumRetryCount": 0},
    )
    args["healthcheck"] = _healthcheck(container.health) if container.health else None
    args["stop_timeout"] = math.ceil(container.stop_grace)
    if not joined and not host:
        aliases = network_aliases(service)
        # Docker's DNS answers to a container's hostname too: a service that gives up
        # its name keeps the engine's default hostname (the short container id).
        args["hostname"] = service.name if service.name in aliases else None
        args["ports"] = [(p.port, p.protocol) for p in container.ports] or None
        args["networking_config"] = {"EndpointsConfig": {desired.network: {"Aliases": aliases}}}
    return args


def network_aliases(service: ServiceDef) -> list[str]:
    """The names a task's main container answers to on the environment network:
    the service's name unless the service says otherwise (an ingress that stands
    in for other services; replicas that only the ingress reaches have none)."""
    aliases = service.task.aliases
    return [service.name] if aliases is None else list(aliases)


def container_args(
    api: docker.APIClient,
    container: ContainerDef,
    *,
    name: str,
    labels: dict[str, str],
    network_mode: str,
    **host_config: Any,
) -> CreateArgs:
    """What every container Dockyard makes starts from: image, process, env, labels,
    resources and mounts. ``host_config`` adds host settings (ports, restart policy)."""
    return {
        "image": container.image,
        "name": name,
        "command": container.command,
        "entrypoint": container.entrypoint,
        "working_dir": container.workdir,
        "user": container.user,
        "environment": dict(container.env) or None,
        "labels": labels,
        "host_config": api.create_host_config(
            network_mode=network_mode,
            nano_cpus=int(container.cpus * NANO) if container.cpus else None,
            mem_limit=container.memory,
            mounts=[_mount(m) for m in container.mounts] or None,
            sysctls=dict(container.sysctls) or None,
            log_config=log_config(container.log),
            **host_config,
        ),
        "detach": True,
    }


DEFAULT_LOG = LogDef(driver="json-file", options={"max-size": "10m", "max-file": "3"})
"""Where a container's output goes when the environment's ``logging:`` says nothing:
files the engine rotates, so that a chatty container does not fill its disk."""


def log_config(log: LogDef | None) -> LogConfig:
    """The engine's ``LogConfig`` of a container."""
    chosen = log or DEFAULT_LOG
    return LogConfig(type=chosen.driver, config=dict(chosen.options))


def create(api: docker.APIClient, args: CreateArgs, environment: str) -> str:
    """Create a container; returns its id.

    When the name is taken by a container this environment left behind (a run
    that crashed half-way), that container's task is removed first. A name held
    by anything else is an error: Dockyard never removes what it did not make.
    """
    name: str = args["name"]
    try:
        return str(api.create_container(**args)["Id"])
    except docker.errors.APIError as e:
        if not is_conflict(e):
            raise
    remove_stale(api, name, environment)
    return str(api.create_container(**args)["Id"])


def remove_stale(api: docker.APIClient, name: str, environment: str) -> None:
    """Remove the container named ``name`` (and, for a main, its sidecars) if it is ours."""
    try:
        stale = api.inspect_container(name)
    except docker.errors.NotFound:
        return
    labels = stale["Config"].get("Labels") or {}
    if labels.get(LABEL_ENV) != environment:
        raise EngineError(
            f"a container named {name} already exists and was not made by Dockyard "
            f"for environment {environment}",
            hint=f"Remove or rename it (docker rm -f {name}), then deploy again.",
        )
    doomed = [stale["Id"]]
    if labels.get(LABEL_ROLE) == "main":
        sidecars = api.containers(all=True, filters={"label": task_filter(name)})
        doomed = [s["Id"] for s in sidecars if s["Id"] != stale["Id"]] + doomed
    for container_id in doomed:
        force_remove(api, container_id)


def never_restart(api: docker.APIClient, container_id: str) -> None:
    """Set a container's restart policy to ``no``: it is being stopped on purpose, and
    the supervisor leaves such containers alone.

    Best effort: a container that is gone, being removed, stopped or exiting cannot
    be updated on some engines ("cannot update a stopped container", "container not
    running"), and it is stopped and removed right after either way."""
    never: Any = {"Name": "no"}  # the stubs know "always" and "on-failure" only
    with contextlib.suppress(docker.errors.APIError):  # NotFound included
        api.update_container(container_id, restart_policy=never)


def remove_task(api: docker.APIClient, task: ActualTask) -> None:
    """Stop and remove every container of ``task``; gone already is fine.

    Every container's restart policy is set to ``no`` before anything stops, so
    neither Docker nor the environment's supervisor starts one again meanwhile.
    The sidecars stop first, at the same time, then the main container: a task
    takes the longest grace period of its sidecars plus the main's, at most. The
    keeper of its secrets goes last.
    """
    definition = task.definition
    graces = {c.name: c.stop_grace for c in definition.containers} if definition else {}
    listed = api.containers(all=True, filters={"label": task_filter(task.task)})
    found = observe.tasks_of(listed)
    containers = {c.id: c for c in task.containers}
    for c in found[0].containers if found else []:
        containers[c.id] = c
    for c in containers.values():
        never_restart(api, c.id)
    for role in ("sidecar", "main"):
        together(
            partial(_stop_and_remove, api, c, graces.get(c.container, DEFAULT_STOP_GRACE))
            for c in containers.values()
            if c.role == role
        )
    # The keeper of the task's secrets goes last: the files go with it.
    for c in containers.values():
        if c.role == "keeper":
            force_remove(api, c.id)


def _stop_and_remove(api: docker.APIClient, container: ActualContainer, grace: float) -> None:
    """SIGTERM, ``grace`` seconds (whole ones, as Docker counts them), SIGKILL; then remove."""
    try:
        api.stop(container.id, timeout=math.ceil(grace))
    except docker.errors.NotFound:
        return
    force_remove(api, container.id)


def force_remove(api: docker.APIClient, container_id: str) -> None:
    """Kill and remove a container with its anonymous volumes; gone already is fine."""
    try:
        api.remove_container(container_id, v=True, force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        if not is_conflict(e):  # 409: a removal is already in progress
            raise


def _port_bindings(ports: list[PortDef]) -> dict[int | str, Any] | None:
    bindings: dict[int | str, Any] = {
        f"{p.port}/{p.protocol}": (p.host_ip, p.publish) for p in ports if p.publish
    }
    return bindings or None


def _mount(mount: MountDef) -> Mount:
    if mount.tmpfs:
        return Mount(mount.target, None, type="tmpfs", read_only=mount.read_only)
    if mount.source is not None:
        return Mount(mount.target, mount.source, type="bind", read_only=mount.read_only)
    return Mount(mount.target, mount.volume, type="volume", read_only=mount.read_only)


def _healthcheck(health: HealthDef) -> dict[str, Any]:
    return {
        "test": health.test,
        "interval": int(health.interval * NANO),
        "timeout": int(health.timeout * NANO),
        "retries": health.retries,
        "start_period": int(health.start_period * NANO),
    }
