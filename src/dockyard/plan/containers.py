"""Spec containers and one-off tasks → their resolved definitions. Pure: no I/O."""

from __future__ import annotations

from dockyard.errors import SpecError
from dockyard.plan.model import (
    ContainerDef,
    HealthDef,
    MountDef,
    OneOffDef,
    PortDef,
    SecretDef,
    volume_name,
)
from dockyard.plan.probes import http_probe, tcp_probe
from dockyard.spec.models import Container, Health, TaskSpec


def container_def(
    environment: str,
    name: str,
    c: Container,
    image: str,
    secrets: list[SecretDef] | None = None,
) -> ContainerDef:
    """One container of a task, running ``image``, with the ``secrets`` its spec names."""
    ports = _ports(c)
    return ContainerDef(
        name=name,
        image=image,
        sidecar=c.sidecar,
        command=c.command,
        entrypoint=c.entrypoint,
        workdir=c.workdir,
        user=c.user,
        env=dict(sorted(c.env.items())),
        ports=ports,
        health=health_def(c.health, ports) if c.health else None,
        cpus=c.resources.cpus if c.resources else None,
        memory=c.resources.memory if c.resources else None,
        mounts=_mounts(environment, c),
        stop_grace=c.stop_grace,
        secrets=list(secrets or []),
    )


def _ports(c: Container) -> list[PortDef]:
    return [
        PortDef(
            name=p.name,
            port=p.port,
            protocol=p.protocol,
            publish=p.publish,
            host_ip=p.host_ip,
            metrics=p.metrics_path,
        )
        for p in c.ports
    ]


def _mounts(environment: str, c: Container) -> list[MountDef]:
    """The container's mounts; a named volume is the environment's own."""
    return [
        MountDef(
            target=v.target,
            volume=volume_name(environment, v.name) if v.name else None,
            tmpfs=v.tmpfs,
            read_only=v.read_only,
            shared=v.shared,
        )
        for v in c.volumes
    ]


def oneoff_def(
    service: str,
    name: str,
    task: TaskSpec,
    base: ContainerDef,
    secrets: list[SecretDef] | None = None,
) -> OneOffDef:
    """A task runs in a container like ``base`` (its image, env, volumes and
    secrets) with its own command, env overrides, resources and extra ``secrets``,
    and no ports or health check."""
    own = {s.name for s in secrets or []}
    container = base.model_copy(
        update={
            "name": name,
            "sidecar": False,
            "command": list(task.command),
            "env": dict(sorted({**base.env, **task.env}.items())),
            "ports": [],
            "health": None,
            "cpus": task.resources.cpus if task.resources else base.cpus,
            "memory": task.resources.memory if task.resources else base.memory,
            "secrets": [s for s in base.secrets if s.name not in own] + list(secrets or []),
        }
    )
    return OneOffDef(
        service=service,
        name=name,
        container=container,
        timeout=task.timeout,
        when=task.run,
        rollback_on_failure=task.rollback_on_failure,
    )


def health_def(health: Health, ports: list[PortDef]) -> HealthDef:
    """Turn a spec health check into a command run inside the container, keeping
    what the spec said beside it.

    HTTP and TCP checks run a probe (:mod:`dockyard.plan.probes`) that uses the
    first tool the image has, so images without curl still get a real check.
    """
    port: int | None = None
    if health.command is not None:
        test = ["CMD", *health.command]
    else:
        port = port_number(health.port, ports)
        if health.http is not None:
            script = http_probe(f"http://127.0.0.1:{port}{health.http}", health.timeout)
        else:
            script = tcp_probe(port, health.timeout)
        test = ["CMD-SHELL", script]
    return HealthDef(
        test=test,
        interval=health.interval,
        timeout=health.timeout,
        retries=health.retries,
        start_period=health.start_period,
        http=health.http,
        tcp=health.tcp,
        port=port,
        command=list(health.command) if health.command is not None else None,
    )


def port_number(port: str | int | None, ports: list[PortDef]) -> int:
    if isinstance(port, int):
        return port
    for p in ports:
        if p.name == port:
            return p.port
    if port is not None and port.isdigit():
        return int(port)
    raise SpecError(f"health check names port {port!r}, which the container does not declare")
