"""Spec + release inputs → desired state. Pure: no I/O."""

from __future__ import annotations

import shlex
from collections.abc import Collection, Mapping

from dockyard.errors import SpecError
from dockyard.plan.ingress import (
    HOLDER_SERVICE,
    INGRESS_SERVICE,
    RESERVED,
    holder_service,
    ingress_service,
)
from dockyard.plan.model import (
    ContainerDef,
    DesiredState,
    HealthDef,
    IngressDef,
    MountDef,
    OneOffDef,
    PortDef,
    ProxyDef,
    PublicRoute,
    ServiceDef,
    TaskDef,
    network_name,
    volume_name,
)
from dockyard.plan.supervisor import add_supervisor
from dockyard.spec.loaded import LoadedEnvironment, LoadedService
from dockyard.spec.models import Container, Health, TaskSpec

ImageRefs = Mapping[str, str]
"""Service or accessory name → the image reference its built image resolved to."""


def desire(
    env: LoadedEnvironment, images: ImageRefs, only: Collection[str] | None = None
) -> DesiredState:
    """The desired state of ``env`` given the images its builds produced.

    With ``only``, just those services and accessories are described (a deploy
    of part of an environment); plan it with the same ``only``.
    """
    name = env.name
    services: dict[str, ServiceDef] = {}
    volumes: set[str] = set()
    ingress = ingress_of(env)
    if ingress is not None and only is not None:
        # Part of an environment brings the ingress along when a part is proxied.
        named = any(n in only for n in RESERVED) or any(p.service in only for p in ingress.proxied)
        ingress = ingress if named else None

    for acc_name, acc in env.spec.accessories.items():
        if only is not None and acc_name not in only:
            continue
        image = acc.image if acc.image is not None else _image(images, acc_name)
        container = _container(name, acc_name, acc, image)
        volumes.update(m.volume for m in container.mounts if m.volume)
        services[acc_name] = ServiceDef(
            name=acc_name,
            kind="accessory",
            task=TaskDef(containers=[container], restart=acc.restart),
            replicas=1,
            depends_on=list(acc.depends_on),
        )

    for svc in env.services:
        if only is not None and svc.name not in only:
            continue
        spec = svc.spec
        built = _image(images, svc.name) if spec.image is not None else None
        ordered = [spec.main] + [n for n in spec.containers if n != spec.main]
        containers: list[ContainerDef] = []
        for cname in ordered:
            spec_c = spec.containers[cname]
            ref = spec_c.image if spec_c.image is not None else built
            assert ref is not None  # ServiceSpec guarantees a built image or an explicit one
            containers.append(_container(name, cname, spec_c, ref))
        for cdef in containers:
            volumes.update(m.volume for m in cdef.mounts if m.volume)
        by_name = {c.name: c for c in containers}
        tasks = [
            _oneoff(svc.name, task_name, t, by_name[t.container or spec.main])
            for task_name, t in spec.tasks.items()
        ]
        proxied = ingress is not None and ingress.proxy(svc.name) is not None
        services[svc.name] = ServiceDef(
            name=svc.name,
            tasks=tasks,
            task=TaskDef(
                containers=containers,
                restart=spec.deploy.restart,
                aliases=[] if proxied else None,
            ),
            replicas=spec.deploy.replicas,
            # A proxied service is reached through the ingress: it goes up first.
            depends_on=[INGRESS_SERVICE, *spec.depends_on] if proxied else list(spec.depends_on),
            health_timeout=spec.deploy.health_timeout,
            max_surge=spec.deploy.max_surge,
            max_unavailable=spec.deploy.max_unavailable,
            drain=spec.deploy.drain,
            watch=spec.deploy.watch,
            rollback=spec.deploy.rollback,
        )

    if ingress is not None:
        config = env.spec.ingress
        ports = {p.service: p.ports for p in ingress.proxied}
        taken = sorted(set(services) & set(RESERVED))
        if taken:
            raise SpecError(
                f"{taken[0]} is the name of a part of the environment's ingress",
                hint="Rename it, or turn the ingress off with `ingress: {enabled: false}`.",
            )
        image = _image(images, INGRESS_SERVICE)
        # The holder only waits: it keeps the image it was made with (see ingress_images).
        holder = holder_service(
            name, images.get(HOLDER_SERVICE, image), config.port, config.host_ip, ports
        )
        services[HOLDER_SERVICE] = holder
        services[INGRESS_SERVICE] = ingress_service(name, image, holder)
    add_supervisor(services, name, images, only)

    return DesiredState(
        environment=name,
        network=network_name(name),
        volumes=sorted(volumes),
        services=_deploy_order(services),
        labels=dict(env.spec.labels),
        ingress=ingress,
    )


def ingress_of(env: LoadedEnvironment) -> IngressDef | None:
    """What the environment's ingress routes; None when it has none (turned off, or
    no service has a proxied port)."""
    if not env.spec.ingress.enabled:
        return None
    proxied = [p for p in (_proxy(svc) for svc in env.services) if p is not None]
    if not proxied:
        return None
    routes = [
        PublicRoute(service=svc.name, port=_route_port(svc, r.port), host=r.host, path=r.path)
        for svc in env.services
        for r in svc.spec.routes
    ]
    return IngressDef(service=INGRESS_SERVICE, proxied=proxied, routes=routes)


def _proxy(svc: LoadedService) -> ProxyDef | None:
    spec = svc.spec
    ports = sorted(
        {
            p.port
            for c in spec.containers.values()
            for p in c.ports
            if p.proxy and p.protocol == "tcp"
        }
    )
    if not ports:
        return None
    main = spec.containers[spec.main]
    health = main.health
    if health is None or health.http is None:
        return ProxyDef(service=svc.name, ports=ports)
    main_ports = [PortDef(name=p.name, port=p.port) for p in main.ports]
    return ProxyDef(
        service=svc.name,
        ports=ports,
        health_path=health.http,
        health_port=_port_number(health.port, main_ports),
        health_interval=health.interval,
        health_timeout=health.timeout,
    )


def _route_port(svc: LoadedService, port: str | int | None) -> int:
    main = svc.spec.containers[svc.spec.main]
    if port is None:
        return main.ports[0].port  # the spec's validator checks there is one
    return _port_number(port, [PortDef(name=p.name, port=p.port) for p in main.ports])


def _image(images: ImageRefs, name: str) -> str:
    try:
        return images[name]
    except KeyError:
        raise SpecError(
            f"no image was built for {name!r}", hint="build the environment's images first"
        ) from None


def _container(environment: str, name: str, c: Container, image: str) -> ContainerDef:
    ports = [
        PortDef(name=p.name, port=p.port, protocol=p.protocol, publish=p.publish, host_ip=p.host_ip)
        for p in c.ports
    ]
    mounts = [
        MountDef(
            target=v.target,
            volume=volume_name(environment, v.name) if v.name else None,
            tmpfs=v.tmpfs,
            read_only=v.read_only,
            shared=v.shared,
        )
        for v in c.volumes
    ]
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
        mounts=mounts,
        stop_grace=c.stop_grace,
    )


def _oneoff(service: str, name: str, task: TaskSpec, base: ContainerDef) -> OneOffDef:
    """A task runs in a container like ``base`` (its image, env and volumes) with
    its own command, env overrides and resources, and no ports or health check."""
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
    """Turn a spec health check into a command run inside the container.

    HTTP and TCP checks try the tools an image is likely to have (curl, wget,
    then python3), so images without curl still get a real check.
    """
    if health.command is not None:
        test = ["CMD", *health.command]
    else:
        port = _port_number(health.port, ports)
        if health.http is not None:
            url = f"http://127.0.0.1:{port}{health.http}"
            probe = f'import urllib.request; urllib.request.urlopen("{url}", timeout=5)'
            script = (
                f"curl -fsS -o /dev/null {shlex.quote(url)} "
                f"|| wget -q -O /dev/null {shlex.quote(url)} "
                f"|| python3 -c {shlex.quote(probe)}"
            )
        else:
            probe = f'import socket; socket.create_connection(("127.0.0.1", {port}), 5)'
            script = f"nc -z 127.0.0.1 {port} || python3 -c {shlex.quote(probe)}"
        test = ["CMD-SHELL", script]
    return HealthDef(
        test=test,
        interval=health.interval,
        timeout=health.timeout,
        retries=health.retries,
        start_period=health.start_period,
    )


def _port_number(port: str | int | None, ports: list[PortDef]) -> int:
    if isinstance(port, int):
        return port
    for p in ports:
        if p.name == port:
            return p.port
    if port is not None and port.isdigit():
        return int(port)
    raise SpecError(f"health check names port {port!r}, which the container does not declare")


def _deploy_order(services: dict[str, ServiceDef]) -> list[ServiceDef]:
    """Dependencies first; otherwise accessories, then services, in file order."""
    ordered: list[ServiceDef] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name not in services:
            return
        if name in visiting:
            raise SpecError(f"dependency cycle through {name!r}")
        visiting.add(name)
        for dep in services[name].depends_on:
            visit(dep)
        visiting.discard(name)
        done.add(name)
        ordered.append(services[name])

    for name in services:
        visit(name)
    return ordered
