"""``DockerEngine``: every engine protocol (``Engine``) over one Docker Engine, through docker-py.

The work is done by small modules beside this one; this class holds the
connection, wraps every call in :func:`translate_errors`, and keeps the
operations idempotent where the protocols say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime

import docker
import docker.errors

from dockyard.engines.access import ContainerDetails, Terminal
from dockyard.engines.docker import execs, images, observe, oneoff, readiness, run, writers
from dockyard.engines.docker import logs as container_logs
from dockyard.engines.docker import secrets as delivery
from dockyard.engines.docker.build import build_image
from dockyard.engines.docker.connection import (
    connect,
    engine_address,
    explanation,
    is_conflict,
    translate_errors,
)
from dockyard.engines.docker.labels import env_filter, network_labels, task_filter, volume_labels
from dockyard.engines.model import (
    NO_SECRETS,
    BuildRequest,
    ImageSelection,
    LogDriverInfo,
    LogLine,
    LogSource,
    LogWindow,
    OneOffResult,
    ProgressFn,
    RegistryAuth,
    RemovedImage,
    SecretValues,
)
from dockyard.errors import EngineError
from dockyard.plan.model import (
    LABEL_ROLE,
    ActualState,
    ActualTask,
    DesiredState,
    OneOffDef,
    ServiceDef,
    network_name,
    task_name,
)


class DockerEngine:
    """One Docker Engine: the local socket, ``tcp://`` or ``ssh://`` host.

    The connection is made on first use, so constructing an engine never fails;
    ``ping()`` is the way to check that one answers.
    """

    name = "docker"
    builds_at_once = 4
    """The daemon runs builds side by side; each waits on its own steps."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host
        self.address = engine_address(host)
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        """The docker-py client, connected on first use."""
        if self._client is None:
            self._client = connect(self.host)
        return self._client

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------ engine

    def ping(self) -> str:
        with translate_errors(self.address, "ask the Docker engine for its version"):
            return str(self.api.version(api_version=False)["Version"])

    def build(self, request: BuildRequest, progress: ProgressFn) -> str:
        return build_image(self.client, self.address, request, progress)

    def observe(self, environment: str) -> ActualState:
        with translate_errors(self.address, f"list the containers of {environment}"):
            summaries = self.api.containers(all=True, filters={"label": env_filter(environment)})
            volumes = self.api.volumes(filters={"label": env_filter(environment)})
            network = self._network(network_name(environment))
            statuses = {c["Id"]: str(c.get("Status") or "") for c in summaries}
            found = observe.tasks_of(summaries)
            if any(observe.needs_inspect(t, statuses) for t in found):
                now = self._engine_time()
                found = [self._settled(t, statuses, now) for t in found]
        return ActualState(
            environment=environment,
            network=network,
            volumes=sorted(
                v["Name"]
                for v in (volumes or {}).get("Volumes") or []
                if (v.get("Labels") or {}).get(LABEL_ROLE) != delivery.VOLUME_ROLE
            ),
            tasks=found,
        )

    def addresses(self, environment: str) -> dict[str, str]:
        network = network_name(environment)
        with translate_errors(self.address, f"list the addresses of {environment}"):
            summaries = self.api.containers(filters={"label": env_filter(environment)})
        found = {}
        for c in summaries:
            networks = (c.get("NetworkSettings") or {}).get("Networks") or {}
            ip = (networks.get(network) or {}).get("IPAddress")
            if ip:
                found[str(c["Id"])] = str(ip)
        return found

    def _engine_time(self) -> datetime:
        """The engine's clock (a remote engine's may differ from this machine's)."""
        text = self.api.info().get("SystemTime")
        return observe.started_at(text) or datetime.now(UTC)

    def _settled(self, task: ActualTask, statuses: dict[str, str], now: datetime) -> ActualTask:
        """``task`` with what its containers' inspects tell, where the list leaves
        something open (see :mod:`dockyard.engines.docker.observe`)."""
        if not observe.needs_inspect(task, statuses):
            return task
        details: dict[str, observe.Inspected] = {}
        for c in task.containers:
            try:
                details[c.id] = observe.inspected(self.api.inspect_container(c.id))
            except docker.errors.NotFound:
                continue
        return observe.settle(task, details, now)

    def ensure_network(self, desired: DesiredState) -> None:
        name = desired.network
        with translate_errors(self.address, f"create network {name}"):
            if self._network(name) is not None:
                return
            try:
                self.api.create_network(
                    name, driver="bridge", labels=network_labels(desired), check_duplicate=True
                )
            except docker.errors.APIError as e:
                if not is_conflict(e):  # created meanwhile by someone else
                    raise

    def ensure_volume(self, desired: DesiredState, volume: str) -> None:
        with translate_errors(self.address, f"create volume {volume}"):
            try:
                self.api.inspect_volume(volume)
            except docker.errors.NotFound:
                self.api.create_volume(volume, labels=volume_labels(desired))

    def start_task(
        self,
        desired: DesiredState,
        service: ServiceDef,
        replica: int,
        release: str,
        secrets: SecretValues = NO_SECRETS,
    ) -> ActualTask:
        """Create and start the main container, then each sidecar; a task whose
        containers get secrets starts their keeper first, and each container's
        files are written before it starts (:mod:`dockyard.engines.docker.secrets`).

        When any step fails, the containers this call made are removed again
        before the error is raised, so no half-made task is left behind.
        """
        task = service.task
        name = task_name(desired.environment, service.name, replica, task.spec_hash())
        made: list[str] = []
        with translate_errors(self.address, f"start {name}"):
            for mount in (m for c in task.containers for m in c.mounts):
                if mount.volume:
                    self.ensure_volume(desired, mount.volume)
            writers.check_no_writer(self.api, name, task.exclusive_volumes())
            try:
                keeper: str | None = None
                if delivery.needs_keeper(task.containers):
                    labels = delivery.keeper_labels(desired, service, replica, release, name)
                    keeper = delivery.prepare(
                        self.api, desired, name, task.containers, secrets, labels
                    )
                    made.append(keeper)
                main_id: str | None = None
                for container in task.containers:
                    args = run.create_args(
                        self.api,
                        desired,
                        service,
                        container,
                        replica=replica,
                        release=release,
                        task=name,
                        main_id=main_id,
                    )
                    delivery.attach(args, name, container, secrets)
                    container_id = run.create(self.api, args, desired.environment)
                    made.append(container_id)
                    if keeper is not None:
                        delivery.fill(self.api, keeper, container, container_id, secrets)
                    self.api.start(container_id)
                    main_id = main_id or container_id
            except BaseException:
                for container_id in reversed(made):
                    with suppress(Exception):  # the first error is the one to report
                        run.force_remove(self.api, container_id)
                with suppress(Exception):
                    delivery.remove_volumes(self.api, name)
                raise
            summaries = self.api.containers(all=True, filters={"label": task_filter(name)})
        found = observe.tasks_of(summaries)
        if not found:
            raise EngineError(f"task {name} vanished right after it started")
        return found[0]

    def run_oneoff(
        self,
        desired: DesiredState,
        task: OneOffDef,
        release: str,
        output: ProgressFn,
        secrets: SecretValues = NO_SECRETS,
    ) -> OneOffResult:
        self.ensure_network(desired)
        for mount in task.container.mounts:
            if mount.volume:
                self.ensure_volume(desired, mount.volume)
        with translate_errors(self.address, f"check the volumes of {task.service}/{task.name}"):
            volumes = task.container.exclusive_volumes()
            writers.check_no_writer(self.api, f"{task.service}/{task.name}", volumes)
        return oneoff.run_oneoff(self.api, self.address, desired, task, release, output, secrets)

    def remove_oneoffs(self, environment: str, deploy_only: bool = False) -> list[str]:
        return oneoff.remove_oneoffs(self.api, self.address, environment, deploy_only)

    def wait_ready(self, task: ActualTask, timeout: float, progress: ProgressFn) -> None:
        with translate_errors(self.address, f"watch {task.task} start"):
            readiness.wait_ready(self.api, task, timeout, progress, self.logs)

    def check_task(self, task: ActualTask) -> None:
        with translate_errors(self.address, f"check {task.task}"):
            readiness.check_ready(self.api, task, self.logs)

    def remove_task(self, task: ActualTask) -> None:
        """Stop and remove every container of ``task``, sidecars first; gone already is
        fine (see :func:`dockyard.engines.docker.run.remove_task`); then the volumes
        of its secrets."""
        with translate_errors(self.address, f"remove {task.task}"):
            run.remove_task(self.api, task)
            delivery.remove_volumes(self.api, task.task)

    def remove_network(self, environment: str) -> None:
        """Remove an environment's network; gone already is fine."""
        name = network_name(environment)
        with translate_errors(self.address, f"remove network {name}"):
            try:
                self.api.remove_network(name)
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as e:
                if "active endpoints" in explanation(e):
                    raise EngineError(
                        f"cannot remove network {name}: containers are still attached to it",
                        hint="Remove the environment's tasks first.",
                    ) from e
                raise

    def remove_volume(self, volume: str) -> None:
        with translate_errors(self.address, f"remove volume {volume}"):
            try:
                self.api.remove_volume(volume)
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as e:
                if is_conflict(e):
                    raise EngineError(
                        f"cannot remove volume {volume}: a container still uses it "
                        f"({explanation(e)})",
                        hint="Remove the tasks that mount it first.",
                    ) from e
                raise

    def _network(self, name: str) -> str | None:
        """``name`` when that network exists."""
        try:
            self.client.networks.get(name)
        except docker.errors.NotFound:
            return None
        return name

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        command = argv[0] if argv else "a command"
        with translate_errors(self.address, f"run {command} in {container_id[:12]}"):
            return execs.exec_in(self.api, container_id, argv)

    def logs(self, container_id: str, tail: int = 20) -> str:
        with translate_errors(self.address, f"read the logs of {container_id[:12]}"):
            raw = self.api.logs(container_id, stdout=True, stderr=True, tail=tail)
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def attach(self, container_id: str, argv: list[str], io: Terminal) -> int:
        command = argv[0] if argv else "a command"
        with translate_errors(self.address, f"run {command} in {container_id[:12]}"):
            return execs.attach(self.api, container_id, argv, io)

    def details(self, container_id: str) -> ContainerDetails | None:
        with translate_errors(self.address, f"inspect container {container_id[:12]}"):
            try:
                info = self.api.inspect_container(container_id)
            except docker.errors.NotFound:
                return None
            image = str(info.get("Image") or "")
            try:
                digests = [
                    str(d) for d in self.client.images.get(image).attrs.get("RepoDigests") or []
                ]
            except docker.errors.NotFound:  # removed while the container runs
                digests = []
        return observe.details_of(info, digests)

    def log_sources(self, environment: str) -> list[LogSource]:
        with translate_errors(self.address, f"list the containers of {environment}"):
            summaries = self.api.containers(all=True, filters={"label": env_filter(environment)})
        return container_logs.sources(summaries)

    def read_log(self, source: LogSource, window: LogWindow, follow: bool) -> Iterator[LogLine]:
        with translate_errors(self.address, f"read the logs of {source.name}"):
            res = container_logs.open_log(self.api, source.id, window, follow)
            if res is None:
                return
            until = window.until
            try:
                for line in container_logs.lines_of(container_logs.chunks(res, follow)):
                    if until is None or line.time <= until:
                        yield line
            except (OSError, ValueError, AttributeError):
                return  # the connection closed under a follow (the container went)
            finally:
                res.close()

    def started_sources(self, environment: str, since: int) -> container_logs.StartWatch:
        with translate_errors(self.address, f"watch the containers of {environment} start"):
            return container_logs.StartWatch(self.api, env_filter(environment), since)

    def log_driver(self, source: LogSource) -> LogDriverInfo:
        with translate_errors(self.address, f"inspect {source.name}"):
            try:
                info = self.api.inspect_container(source.id)
            except docker.errors.NotFound:
                return LogDriverInfo("json-file")
        return container_logs.driver_info(info)

    # ------------------------------------------------------------------ images

    def image_present(self, ref: str) -> bool:
        return self.image_id(ref) is not None

    def image_id(self, ref: str) -> str | None:
        with translate_errors(self.address, f"look up image {ref}"):
            return images.image_id(self.client, ref)

    def pull(self, ref: str, auth: RegistryAuth | None, progress: ProgressFn) -> None:
        images.pull(self.api, self.address, ref, auth, progress)

    def tag(self, image: str, repository: str, tag: str) -> None:
        images.tag(self.api, self.address, image, repository, tag)

    def push(
        self, repository: str, tag: str, auth: RegistryAuth | None, progress: ProgressFn
    ) -> str:
        return images.push(self.api, self.address, repository, tag, auth, progress)

    def remove_images(self, selection: ImageSelection) -> list[RemovedImage]:
        return images.remove_images(self.api, self.address, selection)
