"""Checks across the files of one environment, each error located.

Each file is valid on its own by the time these run; what is checked here
needs several files, or the file system: names that must be unique across the
environment, host ports, build contexts (:mod:`dockyard.spec.builds`), values
the engine would refuse (:mod:`dockyard.spec.values`), and the dependency graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import SpecError
from dockyard.spec import codes
from dockyard.spec.builds import check_build
from dockyard.spec.environment import EnvironmentSpec
from dockyard.spec.hints import KeyPath, did_you_mean
from dockyard.spec.metrics import INGRESS_METRICS_PORT
from dockyard.spec.models import Container, ServiceSpec
from dockyard.spec.values import check_values
from dockyard.spec.writers import check_writers
from dockyard.spec.yamlsource import SourceMap

_WILDCARDS = {"0.0.0.0", "::", ""}
INGRESS_NAME = "ingress"


@dataclass(frozen=True)
class ServiceFile:
    """A loaded service as the checks need it: its name, spec and source map."""

    name: str
    path: Path
    spec: ServiceSpec
    source: SourceMap
    folder: Path  # the service repo: the folder the environment's `source` names


@dataclass(frozen=True)
class _Unit:
    """A service or an accessory: one task of containers, declared in one file."""

    kind: str
    name: str
    source: SourceMap
    containers: list[tuple[str, Container, KeyPath]]
    depends_on: list[tuple[str, KeyPath]]
    replicas: int = 1


def check_environment(
    env: EnvironmentSpec, env_path: Path, env_source: SourceMap, services: Sequence[ServiceFile]
) -> list[SpecError]:
    """Every cross-file problem of an environment, in file order."""
    units = [
        _Unit(
            kind="accessory",
            name=name,
            source=env_source,
            containers=[(name, acc, ("accessories", name))],
            depends_on=[
                (d, ("accessories", name, "depends_on", i)) for i, d in enumerate(acc.depends_on)
            ],
        )
        for name, acc in env.accessories.items()
    ]
    units += [
        _Unit(
            kind="service",
            name=svc.name,
            source=svc.source,
            containers=[
                (c, spec_c, ("containers", c)) for c, spec_c in svc.spec.containers.items()
            ],
            depends_on=[(d, ("depends_on", i)) for i, d in enumerate(svc.spec.depends_on)],
            replicas=svc.spec.deploy.replicas,
        )
        for svc in services
    ]
    errors = _duplicate_services(env, env_source)
    for unit in units:
        errors += _task_ports(unit)
    errors += _host_ports(units)
    errors += _ingress(env, env_source, units)
    errors += check_writers(env, env_source, [(s.name, s.spec, s.source) for s in services])
    env_repo = env_path.parent.parent
    for svc in services:
        if svc.spec.image is not None:
            errors += check_build(
                svc.spec.image,
                base=svc.path.parent,
                repo=svc.folder,
                repo_name="the service repo",
                env_repo=env_repo,
                source=svc.source,
                prefix=("image",),
                relative_to=svc.path.name,
            )
    for name, acc in env.accessories.items():
        if acc.build is not None:
            errors += check_build(
                acc.build,
                base=env_path.parent,
                repo=env_repo,
                repo_name="the environment repo",
                env_repo=env_repo,
                source=env_source,
                prefix=("accessories", name, "build"),
                relative_to=env_path.name,
            )
    errors += check_values(env, env_source, [(svc.spec, svc.source) for svc in services])
    # A service whose own file failed to load is still a known name: its errors
    # are reported already, and its dependents should not report it missing.
    listed = {ref.name for ref in env.services}
    errors += _dependencies(units, listed)
    return errors


def _error(
    code: str, message: str, hint: str | None, source: SourceMap, path: KeyPath
) -> SpecError:
    return SpecError(message, hint=hint, location=source.locate(path), code=code)


def _duplicate_services(env: EnvironmentSpec, source: SourceMap) -> list[SpecError]:
    errors: list[SpecError] = []
    first: dict[str, int] = {}
    for i, ref in enumerate(env.services):
        where = ("services", i, "name")
        if ref.name in env.accessories:
            line = source.locate(("accessories", ref.name), key=True).line
            errors.append(
                _error(
                    codes.DUPLICATE_SERVICE,
                    f"service `{ref.name}` has the name of an accessory",
                    f"the accessory `{ref.name}` is defined on line {line}; rename one of them",
                    source,
                    where,
                )
            )
        if ref.name in first:
            line = source.locate(("services", first[ref.name], "name")).line
            errors.append(
                _error(
                    codes.DUPLICATE_SERVICE,
                    f"service `{ref.name}` is listed twice",
                    f"it is already listed on line {line}; remove one entry",
                    source,
                    where,
                )
            )
        first.setdefault(ref.name, i)
    return errors


def _ingress(env: EnvironmentSpec, source: SourceMap, units: Sequence[_Unit]) -> list[SpecError]:
    """The ingress's name is reserved, its host port is its own, a service's name
    leads either to the ingress (every TCP port proxied) or to its replicas, and
    with a Prometheus the ingress's metrics port is not proxied."""
    if not env.ingress.enabled:
        return []
    errors: list[SpecError] = []
    for unit in units:
        if unit.name == INGRESS_NAME:
            where = ("accessories", unit.name) if unit.kind == "accessory" else ("services",)
            errors.append(
                _error(
                    codes.DUPLICATE_SERVICE,
                    f"{unit.kind} `{INGRESS_NAME}` has the name of the environment's ingress",
                    "rename it, or turn the ingress off with `ingress: {enabled: false}`",
                    source if unit.kind == "accessory" else unit.source,
                    where if unit.kind == "accessory" else ("service",),
                )
            )
        if unit.kind != "service":
            continue
        tcp = [
            (c, p, (*at, "ports", i))
            for c, spec_c, at in unit.containers
            for i, p in enumerate(spec_c.ports)
            if p.protocol == "tcp"
        ]
        proxied = [f"{p.port}" for _, p, _ in tcp if p.proxy]
        for cname, port, at in tcp:
            if proxied and not port.proxy:
                errors.append(
                    _error(
                        codes.PROXY_MIX,
                        f"port {port.port} of `{cname}` is not proxied, but port "
                        f"{proxied[0]} of service `{unit.name}` is",
                        f"the name `{unit.name}` leads to the ingress once one port is proxied; "
                        "proxy every TCP port of the service, or none (`proxy: false`)",
                        unit.source,
                        (*at, "proxy"),
                    )
                )
        if env.metrics.prometheus is not None:
            errors += [
                _error(
                    codes.RESERVED_PORT,
                    f"port {port.port} of `{cname}` is proxied, but the ingress serves its "
                    "metrics on it",
                    f"the environment's Prometheus scrapes the ingress on port "
                    f"{INGRESS_METRICS_PORT}; choose another port, or `proxy: false`",
                    unit.source,
                    (*at, "port"),
                )
                for cname, port, at in tcp
                if port.proxy and port.port == INGRESS_METRICS_PORT
            ]
        ingress = env.ingress
        for cname, port, at in tcp:
            clash = port.publish is not None and port.publish == ingress.port
            if not clash or not _same_host(port.host_ip, ingress.host_ip):
                continue
            errors.append(
                _error(
                    codes.PORT_CLASH,
                    f"host port {port.host_ip}:{port.publish} is published by `{cname}` "
                    "and by the ingress",
                    "serve the service through a route (`routes:`) instead, or choose another port",
                    unit.source,
                    (*at, "publish"),
                )
            )
    return errors


def _same_host(ip: str, other: str) -> bool:
    """Whether binding both addresses takes the same host port (a wildcard takes all)."""
    return ip == other or bool({ip, other} & _WILDCARDS)


def _task_ports(unit: _Unit) -> list[SpecError]:
    """Port names unique per container; port numbers unique per task (one network)."""
    errors: list[SpecError] = []
    numbers: dict[tuple[int, str], str] = {}
    for cname, container, prefix in unit.containers:
        names: set[str] = set()
        for i, port in enumerate(container.ports):
            where = (*prefix, "ports", i)
            if port.name in names:
                errors.append(
                    _error(
                        codes.DUPLICATE_PORT,
                        f"container `{cname}` declares the port name `{port.name}` twice",
                        "give each port of a container its own name",
                        unit.source,
                        (*where, "name"),
                    )
                )
            names.add(port.name)
            other = numbers.get((port.port, port.protocol))
            if other is not None:
                errors.append(
                    _error(
                        codes.DUPLICATE_PORT,
                        f"port {port.port}/{port.protocol} is declared twice in {unit.kind} "
                        f"`{unit.name}`",
                        f"container `{other}` declares it too; the containers of a task share "
                        "one network namespace, so only one of them can listen on it",
                        unit.source,
                        (*where, "port"),
                    )
                )
            numbers.setdefault((port.port, port.protocol), cname)
        health = container.health
        port_name = health.port if health is not None else None
        if isinstance(port_name, str) and port_name not in names and not port_name.isdigit():
            errors.append(
                _error(
                    codes.UNKNOWN_HEALTH_PORT,
                    f"the health check of `{cname}` names port `{port_name}`, "
                    "which the container does not declare",
                    did_you_mean(port_name, names, listing="declared ports")
                    if names
                    else "declare it under `ports:`, or give a port number",
                    unit.source,
                    (*prefix, "health", "port"),
                )
            )
    return errors


def _host_ports(units: Sequence[_Unit]) -> list[SpecError]:
    errors: list[SpecError] = []
    taken: list[tuple[str, int, str, str, SourceMap, KeyPath]] = []
    for unit in units:
        for _, container, prefix in unit.containers:
            for i, port in enumerate(container.ports):
                if port.publish is None:
                    continue
                where = (*prefix, "ports", i, "publish")
                owner = f"{unit.kind} `{unit.name}`"
                if unit.replicas > 1:
                    errors.append(
                        _error(
                            codes.PORT_CLASH,
                            f"{owner} runs {unit.replicas} replicas, which cannot all publish "
                            f"host port {port.publish}",
                            "use one replica, or remove `publish` and route through the ingress",
                            unit.source,
                            where,
                        )
                    )
                for ip, number, proto, other, source, path in taken:
                    same_ip = _same_host(ip, port.host_ip)
                    if number == port.publish and proto == port.protocol and same_ip:
                        loc = source.locate(path)
                        errors.append(
                            _error(
                                codes.PORT_CLASH,
                                f"host port {port.host_ip}:{port.publish}/{port.protocol} is "
                                f"published twice",
                                f"{other} publishes it too ({loc}); choose another port",
                                unit.source,
                                where,
                            )
                        )
                        break
                taken.append((port.host_ip, port.publish, port.protocol, owner, unit.source, where))
    return errors


def _dependencies(units: Sequence[_Unit], listed: set[str]) -> list[SpecError]:
    errors: list[SpecError] = []
    known = {u.name for u in units} | listed
    graph: dict[str, list[tuple[str, _Unit, KeyPath]]] = {u.name: [] for u in units}
    for unit in units:
        for dep, where in unit.depends_on:
            if dep not in known:
                errors.append(
                    _error(
                        codes.UNKNOWN_DEPENDENCY,
                        f"{unit.kind} `{unit.name}` depends on `{dep}`, which is no service or "
                        "accessory of this environment",
                        did_you_mean(dep, known, listing="services and accessories"),
                        unit.source,
                        where,
                    )
                )
            elif dep in graph:
                graph[unit.name].append((dep, unit, where))
    return errors + _cycles(graph)


def _cycles(graph: dict[str, list[tuple[str, _Unit, KeyPath]]]) -> list[SpecError]:
    errors: list[SpecError] = []
    state: dict[str, int] = {}
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep, unit, where in graph[node]:
            if state.get(dep, 0) == 0:
                visit(dep)
            elif state[dep] == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    errors.append(
                        _error(
                            codes.DEPENDENCY_CYCLE,
                            "dependency cycle: " + " → ".join(cycle),
                            "remove one of these `depends_on` entries",
                            unit.source,
                            where,
                        )
                    )
        stack.pop()
        state[node] = 2

    for node in graph:
        if state.get(node, 0) == 0:
            visit(node)
    return errors
