"""Loading an environment: its file, its services' specs and their params.

Every problem found on the way is collected, located and raised together as
:class:`~dockyard.errors.SpecErrors`, so that one run shows all of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from dockyard.errors import Location, SpecError, SpecErrors
from dockyard.spec import codes
from dockyard.spec.environment import EnvironmentSpec, ServiceRef
from dockyard.spec.hints import KeyPath, describe, is_scalar, path_part
from dockyard.spec.loaded import LoadedEnvironment, LoadedService
from dockyard.spec.models import ServiceSpec
from dockyard.spec.params import ValueLayer, interpolate, parse_declarations, resolve
from dockyard.spec.repo import environment_path
from dockyard.spec.translate import validate_model
from dockyard.spec.validate import ServiceFile, check_environment
from dockyard.spec.yamlsource import SourceMap, load_yaml

SPEC_FILE = "dockyard.yaml"


def load_environment(repo: Path, name: str) -> LoadedEnvironment:
    """Load ``environments/<name>.yaml`` of ``repo`` and every service it lists.

    A service's ``source`` is relative to the folder of the environment file.
    Raises :class:`~dockyard.errors.RepoError` for an unknown environment and
    :class:`~dockyard.errors.SpecErrors` with every problem of every file.
    """
    path = environment_path(repo, name)
    data, source = _load_mapping(path, "an environment file")
    raw_params = data.get("params")
    shared = (
        {k: v for k, v in raw_params.items() if isinstance(k, str) and is_scalar(v)}
        if isinstance(raw_params, dict)
        else {}
    )
    interpolated, errors = interpolate(
        data, shared, source, unknown_hint="add it under `params:` in this environment file"
    )
    spec, errs = validate_model(EnvironmentSpec, interpolated, source)
    errors += errs
    if spec is None:
        raise SpecErrors(_ordered(errors))
    if spec.environment is not None and spec.environment != name:
        errors.append(
            SpecError(
                f"`environment: {spec.environment}` does not match the file name {path.name}",
                hint=f"set `environment: {name}`, or rename the file to {spec.environment}.yaml",
                location=source.locate(("environment",)),
                code=codes.ENVIRONMENT_MISMATCH,
            )
        )
    layer = ValueLayer(spec.params, source, prefix=("params",), strict=False)
    services: list[LoadedService] = []
    files: list[ServiceFile] = []
    for i, ref in enumerate(spec.services):
        try:
            folder = _service_folder(path, ref, source, i)
            service, service_source = _load_service(folder, name, ref.spec, layer)
        except SpecErrors as exc:
            errors += exc.errors
            continue
        except SpecError as exc:
            errors.append(exc)
            continue
        if service.name != ref.name:
            errors.append(_name_mismatch(ref, service, service_source, source, i))
        services.append(service)
        files.append(ServiceFile(ref.name, service.path, service.spec, service_source, folder))
    errors += check_environment(spec, path, source, files)
    if errors:
        raise SpecErrors(_ordered(errors))
    return LoadedEnvironment(
        name=name, repo=repo, path=path, spec=spec, services=services, locate=source
    )


def load_service(folder: Path, environment: str, *, spec_file: str = SPEC_FILE) -> LoadedService:
    """Load one service repo on its own, with its params for ``environment``.

    Without an environment file only the defaults and ``params/<env>.yaml``
    give parameters their values.
    """
    return _load_service(folder, environment, spec_file, None)[0]


def _load_service(
    folder: Path, environment: str, spec_file: str, shared: ValueLayer | None
) -> tuple[LoadedService, SourceMap]:
    path = folder / spec_file
    data, source = _load_mapping(path, "a service spec")
    decls, declared, errors = parse_declarations(data.get("params"), source)
    layers = [shared] if shared is not None else []
    params_file = folder / "params" / f"{environment}.yaml"
    params_path = params_file if params_file.is_file() else None
    if params_path is not None:
        try:
            layers.append(_params_layer(params_path))
        except SpecErrors as exc:
            errors += exc.errors
        except SpecError as exc:
            errors.append(exc)
    name = data.get("service")
    values, errs = resolve(
        decls,
        source,
        layers,
        environment=environment,
        params_file=f"params/{environment}.yaml",
        service=name if isinstance(name, str) else folder.name,
    )
    errors += errs
    interpolated, errs = interpolate(
        data,
        values,
        source,
        unresolved=declared - values.keys(),
        unknown_hint="declare it under `params:` in this file",
    )
    errors += errs
    spec, errs = validate_model(ServiceSpec, interpolated, source)
    if errors:
        # a value that failed to interpolate would only be reported a second time
        noise = {source.locate(p) for p in _references(data)}
        errs = [e for e in errs if e.location not in noise]
    errors += errs
    if errors or spec is None:
        raise SpecErrors(_ordered(errors))
    service = LoadedService(
        name=spec.service,
        source=folder,
        path=path,
        spec=spec,
        params=values,
        params_path=params_path,
        locate=source,
    )
    return service, source


def _load_mapping(path: Path, what: str) -> tuple[dict[object, object], SourceMap]:
    data, source = load_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(
            f"{path.name} must be a mapping of keys to values, found {describe(data)}",
            hint=f"{what} starts with `key: value` lines; see docs/spec.md",
            location=source.locate(()),
            code=codes.WRONG_VALUE,
        )
    return data, source


def _params_layer(path: Path) -> ValueLayer:
    data, source = load_yaml(path, allow_empty=True)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(
            f"{path.name} must map parameter names to values, found {describe(data)}",
            hint="write one `name: value` line per parameter",
            location=source.locate(()),
            code=codes.WRONG_VALUE,
        )
    return ValueLayer(data, source)


def _service_folder(env_path: Path, ref: ServiceRef, source: SourceMap, i: int) -> Path:
    where: KeyPath = ("services", i, "source")
    if "://" in ref.source or ref.source.startswith("git+"):
        raise SpecError(
            f"service `{ref.name}`: sources from git are not supported yet",
            hint="check the service repo out and set `source` to its folder",
            location=source.locate(where),
            code=codes.SOURCE_NOT_FOUND,
        )
    folder = Path(os.path.normpath(env_path.parent / Path(ref.source).expanduser()))
    if not folder.is_dir():
        raise SpecError(
            f"service `{ref.name}`: source folder {folder} does not exist",
            hint=f"`source` is relative to the folder of {env_path.name} ({env_path.parent})",
            location=source.locate(where),
            code=codes.SOURCE_NOT_FOUND,
        )
    if not (folder / ref.spec).is_file():
        spec_where: KeyPath = ("services", i, "spec")
        raise SpecError(
            f"service `{ref.name}`: no spec file {ref.spec} in {folder}",
            hint=f"add {ref.spec} there, or set `spec:` to the name of the service's spec file",
            location=source.locate(spec_where if source.exists(spec_where) else where),
            code=codes.SOURCE_NOT_FOUND,
        )
    return folder


def _name_mismatch(
    ref: ServiceRef, service: LoadedService, service_source: SourceMap, env: SourceMap, i: int
) -> SpecError:
    listed = env.locate(("services", i, "name"))
    return SpecError(
        f"the spec names the service `{service.name}`, but the environment lists it as "
        f"`{ref.name}`",
        hint=f"use one name in both places (the environment's entry is at {listed})",
        location=service_source.locate(("service",)),
        code=codes.SERVICE_MISMATCH,
    )


def _references(data: object, path: KeyPath = ()) -> Iterable[KeyPath]:
    """Paths of the strings that contain ``${`` (outside the params block)."""
    if path == ("params",):
        return
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _references(value, (*path, path_part(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _references(value, (*path, i))
    elif isinstance(data, str) and "${" in data:
        yield path


def _ordered(errors: list[SpecError]) -> list[SpecError]:
    """Each error once, grouped by file in the order files were read, then by line."""
    files: dict[Path | None, int] = {}
    unique: dict[tuple[str, Location | None, str], SpecError] = {}
    for e in errors:
        files.setdefault(e.location.file if e.location else None, len(files))
        unique.setdefault((e.code, e.location, e.message), e)

    def key(e: SpecError) -> tuple[int, int, int]:
        loc = e.location
        return (files[loc.file if loc else None], loc.line if loc else 0, loc.column if loc else 0)

    return sorted(unique.values(), key=key)
