"""Spec + release inputs → desired state. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from dockyard.errors import Location, SpecError
from dockyard.plan.containers import container_def, oneoff_def, port_number
from dockyard.plan.discovery import add_agent
from dockyard.plan.ingress import (
    HOLDER_SERVICE,
    INGRESS_SERVICE,
    METRICS_PORT,
    RESERVED,
    holder_service,
    ingress_service,
)
from dockyard.plan.metrics import add_prometheus
from dockyard.plan.model import (
    ContainerDef,
    DesiredState,
    IngressDef,
    LogDef,
    PortDef,
    ProxyDef,
    PublicRoute,
    ServiceDef,
    TaskDef,
    WatchDef,
    network_name,
)
from dockyard.plan.secrets import SHARED, SecretCatalog
from dockyard.plan.supervisor import SUPERVISOR_SERVICE, add_supervisor
from dockyard.spec.loaded import LoadedEnvironment, LoadedService
from dockyard.spec.logconfig import LoggingConfig

ImageRefs = Mapping[str, str]
"""Service or accessory name → the image reference its built image resolved to."""


def desire(
    env: LoadedEnvironment,
    images: ImageRefs,
    only: Collection[str] | None = None,
    secrets: SecretCatalog | None = None,
) -> DesiredState:
    """The desired state of ``env`` given the images its builds produced and the
    ``secrets`` its files hold (names and versions).

    With ``only``, just those services and accessories are described (a deploy
    of part of an environment); plan it with the same ``only``.
    """
    catalog = secrets if secrets is not None else SecretCatalog()
    ingress = _ingress_in(env, only)
    services = {
        **_accessories(env, images, only, catalog),
        **_services(env, images, ingress, only, catalog),
    }
    if ingress is not None:
        services.update(_ingress_parts(env, images, ingress, services))
    add_supervisor(services, env.name, images, only)
    add_agent(services, env, images, ingress_of(env), only)
    add_prometheus(services, env, images, ingress_of(env), only)
    services = with_logging(services, env.spec.logging)  # the holder's was set already
    return DesiredState(
        environment=env.name,
        network=network_name(env.name),
        volumes=_volumes(services.values()),
        services=_deploy_order(services),
        labels=dict(env.spec.labels),
        ingress=ingress,
        helper_image=images.get(SUPERVISOR_SERVICE),
    )


def _ingress_in(env: LoadedEnvironment, only: Collection[str] | None) -> IngressDef | None:
    """The ingress a deploy of ``only`` (all when None) brings: part of an
    environment brings it along when a part is proxied or named."""
    ingress = ingress_of(env)
    if ingress is None or only is None:
        return ingress
    named = any(n in only for n in RESERVED) or any(p.service in only for p in ingress.proxied)
    return ingress if named else None


def _accessories(
    env: LoadedEnvironment,
    images: ImageRefs,
    only: Collection[str] | None,
    catalog: SecretCatalog,
) -> dict[str, ServiceDef]:
    """The environment's accessories (of ``only``): one replica of one container each.
    Their secrets are the environment's shared ones."""
    accessories: dict[str, ServiceDef] = {}
    for name, acc in env.spec.accessories.items():
        if only is not None and name not in only:
            continue
        image = acc.image if acc.image is not None else _image(images, name)
        where = env.locate(("accessories", name, "secrets")) if env.locate else None
        secrets = catalog.resolve(acc.secrets, [SHARED], where)
        accessories[name] = ServiceDef(
            name=name,
            kind="accessory",
            task=TaskDef(
                containers=[container_def(env.name, name, acc, image, secrets)],
                restart=acc.restart,
            ),
            replicas=1,
            depends_on=list(acc.depends_on),
        )
    return accessories


def _services(
    env: LoadedEnvironment,
    images: ImageRefs,
    ingress: IngressDef | None,
    only: Collection[str] | None,
    catalog: SecretCatalog,
) -> dict[str, ServiceDef]:
    """The environment's services (of ``only``), in file order."""
    return {
        svc.name: _service(env.name, svc, images, ingress, catalog)
        for svc in env.services
        if only is None or svc.name in only
    }


def _service(
    environment: str,
    svc: LoadedService,
    images: ImageRefs,
    ingress: IngressDef | None,
    catalog: SecretCatalog,
) -> ServiceDef:
    """One service: its containers (main first), one-off tasks and rollout settings.
    A proxied service is reached through the ingress: it has no alias of its own and
    goes up after the ingress. Its secrets are its own, then the environment's."""
    spec = svc.spec
    containers = _service_containers(environment, svc, images, catalog)
    by_name = {c.name: c for c in containers}
    tasks = [
        oneoff_def(
            svc.name,
            task_name,
            t,
            by_name[t.container or spec.main],
            catalog.resolve(t.secrets, [svc.name, SHARED], _where(svc, "tasks", task_name)),
        )
        for task_name, t in spec.tasks.items()
    ]
    proxied = ingress is not None and ingress.proxy(svc.name) is not None
    deploy = spec.deploy
    return ServiceDef(
        name=svc.name,
        tasks=tasks,
        task=TaskDef(
            containers=containers, restart=deploy.restart, aliases=[] if proxied else None
        ),
        replicas=deploy.replicas,
        depends_on=[INGRESS_SERVICE, *spec.depends_on] if proxied else list(spec.depends_on),
        health_timeout=deploy.health_timeout,
        max_surge=deploy.max_surge,
        max_unavailable=deploy.max_unavailable,
        drain=deploy.drain,
        watch=WatchDef(
            seconds=deploy.watch.seconds,
            max_error_rate=deploy.watch.max_error_rate,
            min_requests=deploy.watch.min_requests,
            max_latency_p95=deploy.watch.max_latency_p95,
        ),
        rollback=deploy.rollback,
    )


def _service_containers(
    environment: str, svc: LoadedService, images: ImageRefs, catalog: SecretCatalog
) -> list[ContainerDef]:
    """A service's containers, main first; those without an image of their own run
    the service's built image."""
    spec = svc.spec
    built = _image(images, svc.name) if spec.image is not None else None
    containers = []
    for name in [spec.main, *(n for n in spec.containers if n != spec.main)]:
        container = spec.containers[name]
        ref = container.image if container.image is not None else built
        assert ref is not None  # ServiceSpec guarantees a built image or an explicit one
        where = _where(svc, "containers", name)
        secrets = catalog.resolve(container.secrets, [svc.name, SHARED], where)
        containers.append(container_def(environment, name, container, ref, secrets))
    return containers


def _where(svc: LoadedService, *path: str) -> Location:
    """Where the ``secrets`` list of ``path`` (a container, a task) is in the spec."""
    return svc.locate((*path, "secrets"))


def with_logging(
    services: Mapping[str, ServiceDef], logging: LoggingConfig | None
) -> dict[str, ServiceDef]:
    """``services`` with the environment's log driver on every container (their
    tasks' too); as they are when it sets none, so that their hashes stay."""
    if logging is None:
        return dict(services)
    log = LogDef(driver=logging.driver, options=dict(sorted(logging.options.items())))

    def logged(c: ContainerDef) -> ContainerDef:
        return c.model_copy(update={"log": log})

    return {
        name: s.model_copy(
            update={
                "task": s.task.model_copy(
                    update={"containers": [logged(c) for c in s.task.containers]}
                ),
                "tasks": [t.model_copy(update={"container": logged(t.container)}) for t in s.tasks],
            }
        )
        for name, s in services.items()
    }


def _ingress_parts(
    env: LoadedEnvironment,
    images: ImageRefs,
    ingress: IngressDef,
    services: Mapping[str, ServiceDef],
) -> dict[str, ServiceDef]:
    """The ingress's holder and Caddy, beside ``services`` (which may not take
    their names)."""
    taken = sorted(set(services) & set(RESERVED))
    if taken:
        raise SpecError(
            f"{taken[0]} is the name of a part of the environment's ingress",
            hint="Rename it, or turn the ingress off with `ingress: {enabled: false}`.",
        )
    config = env.spec.ingress
    ports = {p.service: p.ports for p in ingress.proxied}
    image = _image(images, INGRESS_SERVICE)
    # The holder only waits: it keeps the image it was made with (see ingress_images).
    holder = holder_service(
        env.name,
        images.get(HOLDER_SERVICE, image),
        config.port,
        config.host_ip,
        ports,
        metrics=ingress.metrics_port is not None,
    )
    # Caddy joins the holder's task by its name, made from its definition's hash.
    holder = with_logging({HOLDER_SERVICE: holder}, env.spec.logging)[HOLDER_SERVICE]
    return {HOLDER_SERVICE: holder, INGRESS_SERVICE: ingress_service(env.name, image, holder)}


def _volumes(services: Iterable[ServiceDef]) -> list[str]:
    """The named volumes the containers of ``services`` mount."""
    return sorted(
        {m.volume for s in services for c in s.task.containers for m in c.mounts if m.volume}
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
    metrics = METRICS_PORT if env.spec.metrics.prometheus is not None else None
    return IngressDef(service=INGRESS_SERVICE, proxied=proxied, routes=routes, metrics_port=metrics)


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
        health_port=port_number(health.port, main_ports),
        health_interval=health.interval,
        health_timeout=health.timeout,
    )


def _route_port(svc: LoadedService, port: str | int | None) -> int:
    main = svc.spec.containers[svc.spec.main]
    if port is None:
        return main.ports[0].port  # the spec's validator checks there is one
    return port_number(port, [PortDef(name=p.name, port=p.port) for p in main.ports])


def _image(images: ImageRefs, name: str) -> str:
    try:
        return images[name]
    except KeyError:
        raise SpecError(
            f"no image was built for {name!r}", hint="build the environment's images first"
        ) from None


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
