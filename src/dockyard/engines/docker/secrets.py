"""Delivering secrets to a task's containers as files in memory.

Each container that gets secrets has a volume of its own on a tmpfs (the
``local`` driver mounting ``tmpfs``), mounted read-only at ``/run/secrets``.
A tmpfs volume is empty again whenever nothing has it mounted, so a *keeper*
container (the environment's helper image, ``sleep``, no network) mounts every
volume of the task first and holds them for the task's life: the files stay
while a container restarts, and vanish with the task. The values are written
into the keeper through the engine's API (``put_archive``) as a tar stream
built in this process's memory, which works the same over ``ssh://``: no file is
written on the deploying machine or on the engine's disk.

Each file is owned by the container's user (its numeric ``user``, or the name
looked up in the image's ``/etc/passwd``), or by the ``uid``/``gid`` the spec
gives, with the spec's mode (0400 by default).
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress

import docker
import docker.errors
from docker.types import Mount

from dockyard.engines.docker import run
from dockyard.engines.docker.labels import container_labels
from dockyard.engines.model import SecretValues
from dockyard.errors import EngineError
from dockyard.plan.model import (
    LABEL_CONTAINER,
    LABEL_DEFINITION,
    LABEL_ENV,
    LABEL_ROLE,
    LABEL_TASK,
    ContainerDef,
    DesiredState,
    SecretDef,
    ServiceDef,
)
from dockyard.spec.models import SECRETS_FOLDER

KEEPER_ROLE = "keeper"
VOLUME_ROLE = "secrets"
KEEPER_FOLDER = "/dockyard-secrets"
"""Where the keeper mounts the volume of container ``c``: ``<folder>/<c>``."""
KEEPER_MEMORY = 32 * 1024**2
MIN_SIZE = 1024**2
"""The smallest tmpfs of a container's secrets (it holds only what is written)."""


def keeper_name(task: str) -> str:
    return f"{task}.secrets"


def volume_name(task: str, container: str) -> str:
    return f"{task}-{container}-secrets"


def needs_keeper(containers: Sequence[ContainerDef]) -> bool:
    return any(c.secrets for c in containers)


def prepare(
    api: docker.APIClient,
    desired: DesiredState,
    task: str,
    containers: Sequence[ContainerDef],
    values: SecretValues,
    labels: Mapping[str, str],
) -> str:
    """Create the secrets volumes of ``task``'s ``containers`` and start the keeper
    holding them; returns the keeper's id. Every value must be in ``values``
    (checked before anything is made)."""
    if desired.helper_image is None:
        raise EngineError(
            f"task {task} gets secrets, but this desired state names no helper image",
            hint="deploy again: a deploy builds the helper image",
        )
    wanted = [c for c in containers if c.secrets]
    sizes = {c.name: _size(values.value(s) for s in c.secrets) for c in wanted}
    own = {**desired.labels, LABEL_ENV: desired.environment, LABEL_TASK: task}
    # A keeper a killed run left holds the volumes: it goes first (if it is ours).
    run.remove_stale(api, keeper_name(task), desired.environment)
    mounts = []
    for c in wanted:
        volume = volume_name(task, c.name)
        _remove_volume(api, volume)  # one a crashed run left: it must start empty
        api.create_volume(
            volume,
            driver="local",
            driver_opts={
                "type": "tmpfs",
                "device": "tmpfs",
                "o": f"size={sizes[c.name]},mode=0755",
            },
            labels={**own, LABEL_ROLE: VOLUME_ROLE},
        )
        mounts.append(Mount(f"{KEEPER_FOLDER}/{c.name}", volume, type="volume"))
    args = {
        "image": desired.helper_image,
        "name": keeper_name(task),
        "command": ["sleep", "infinity"],
        "labels": {**labels, LABEL_ROLE: KEEPER_ROLE, LABEL_CONTAINER: KEEPER_ROLE},
        "host_config": api.create_host_config(
            network_mode="none",
            mounts=mounts,
            mem_limit=KEEPER_MEMORY,
            restart_policy={"Name": "no"},
        ),
        "detach": True,
    }
    keeper = run.create(api, args, desired.environment)
    api.start(keeper)
    return keeper


def keeper_labels(
    desired: DesiredState, service: ServiceDef, replica: int, release: str, task: str
) -> dict[str, str]:
    """The labels of a replica's keeper: those of its task's containers but the
    definition (``prepare`` sets its role and container name)."""
    main = service.task.main
    labels = container_labels(desired, service, main, replica=replica, release=release, task=task)
    del labels[LABEL_DEFINITION]
    return labels


def attach(args: run.CreateArgs, task: str, container: ContainerDef, values: SecretValues) -> None:
    """Mount ``container``'s secrets volume read-only at /run/secrets in ``args``, and
    set the environment variables the spec asked for (which ``docker inspect`` shows)."""
    if not container.secrets:
        return
    mount = Mount(SECRETS_FOLDER, volume_name(task, container.name), type="volume", read_only=True)
    host = args["host_config"]
    host["Mounts"] = [*(host.get("Mounts") or []), mount]
    named = {s.env: values.value(s).decode("utf-8", "replace") for s in container.secrets if s.env}
    if named:
        args["environment"] = {**(args.get("environment") or {}), **named}


def fill(
    api: docker.APIClient,
    keeper: str,
    container: ContainerDef,
    created: str,
    values: SecretValues,
) -> None:
    """Write ``container``'s secrets through the keeper, owned by the user of the
    created (not yet started) container ``created``."""
    if not container.secrets:
        return
    owner = _owner(api, created, container)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for secret in container.secrets:
            _add(tar, secret, values.value(secret), owner)
    api.put_archive(keeper, f"{KEEPER_FOLDER}/{container.name}", archive.getvalue())


def remove_volumes(api: docker.APIClient, task: str) -> None:
    """Remove the secrets volumes of ``task`` (its containers must be gone)."""
    found = api.volumes(filters={"label": [f"{LABEL_TASK}={task}", f"{LABEL_ROLE}={VOLUME_ROLE}"]})
    for volume in (found or {}).get("Volumes") or []:
        _remove_volume(api, volume["Name"])


def _remove_volume(api: docker.APIClient, name: str) -> None:
    with suppress(docker.errors.NotFound):
        api.remove_volume(name, force=True)


def _size(values: Iterable[bytes]) -> int:
    """Bytes of tmpfs for ``values``: each file takes whole pages."""
    total = sum(len(v) + 4096 for v in values)
    return max(MIN_SIZE, -(-total * 2 // 4096) * 4096)


def _add(tar: tarfile.TarFile, secret: SecretDef, value: bytes, owner: tuple[int, int]) -> None:
    info = tarfile.TarInfo(secret.name)
    info.size = len(value)
    info.mode = secret.mode
    info.uid = secret.uid if secret.uid is not None else owner[0]
    info.gid = secret.gid if secret.gid is not None else owner[1]
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(value))


def _owner(api: docker.APIClient, created: str, container: ContainerDef) -> tuple[int, int]:
    """The uid and gid ``created`` runs as: its ``user`` (numbers, or names found in
    the image's /etc/passwd and /etc/group); root when it names none."""
    user = container.user
    if not user:
        user = str(api.inspect_container(created)["Config"].get("User") or "")
    name, _, group = user.partition(":")
    if not name:
        return 0, 0
    passwd: list[list[str]] | None = None
    if name.isdigit():
        uid, gid = int(name), None
    else:
        passwd = _table(api, created, "/etc/passwd")
        entry = next((e for e in passwd if len(e) > 3 and e[0] == name), None)
        if entry is None:
            raise EngineError(
                f"container {container.name} runs as user {name!r}, which the image's "
                "/etc/passwd does not have: its secrets need an owner",
                hint='give the user as numbers (user: "1000:1000") or uid/gid on the secret',
            )
        uid, gid = int(entry[2]), int(entry[3])
    if group:
        if group.isdigit():
            return uid, int(group)
        entry = next((e for e in _table(api, created, "/etc/group") if e[0] == group), None)
        if entry is None or len(entry) < 3:
            raise EngineError(
                f"container {container.name} runs as group {group!r}, which the image's "
                "/etc/group does not have"
            )
        return uid, int(entry[2])
    if gid is None:
        passwd = passwd if passwd is not None else _table(api, created, "/etc/passwd")
        entry = next((e for e in passwd if len(e) > 3 and e[2] == str(uid)), None)
        gid = int(entry[3]) if entry is not None else uid if uid else 0
    return uid, gid


def _table(api: docker.APIClient, created: str, path: str) -> list[list[str]]:
    """The lines of a colon-separated table in the container's filesystem (none when
    it has no such file)."""
    try:
        stream, _ = api.get_archive(created, path)
    except docker.errors.NotFound:
        return []
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        handle = tar.extractfile(member) if member is not None else None
        text = handle.read(1024**2).decode("utf-8", "replace") if handle is not None else ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]
