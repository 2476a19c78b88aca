"""The ``Engine`` interface: what the deploy orchestrator asks of an engine.

An engine runs tasks (a main container plus sidecars sharing its network
namespace) for the services of one environment, and reports what runs through
the labels in :mod:`dockyard.plan.model`. Nothing is cached that the engine can
tell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dockyard.plan.model import ActualState, ActualTask, DesiredState, OneOffDef, ServiceDef


@dataclass(frozen=True)
class BuildRequest:
    """One image to build: context folder, Dockerfile, args and the tag to give it."""

    service: str
    context: Path
    dockerfile: str
    tag: str
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageSelection:
    """The local images of one owner (a project's environment), for removal.

    An image carrying every label of ``labels`` is the owner's: its names under
    ``namespace`` (``<namespace>/<repository>:<tag>`` or ``...@sha256:...``) go, and
    the image with them unless another name is left. Of any other image only the
    exact names in ``refs`` go: those the owner's containers and releases ran.
    """

    labels: dict[str, str]
    namespace: str
    refs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RemovedImage:
    """What became of one image: the names removed from it, and whether it is gone."""

    image_id: str
    names: list[str]  # the owner's tags and digests removed from it
    deleted: bool  # the image itself is gone, not only some of its names
    note: str | None = None  # why it (or a name of it) was left
    kept: list[str] = field(default_factory=list)  # the owner's names left on it


@dataclass(frozen=True)
class OneOffResult:
    """How a one-off task's container ended. It is removed; its output is kept here."""

    exit_code: int  # the process's exit code; 137 when killed at the timeout
    timed_out: bool
    log_tail: str  # the last lines of its output
    seconds: float
    container: str  # its name, for messages


ProgressFn = Callable[[str], None]
"""Receives one line of progress (build output, a state change)."""

RegistryAuth = dict[str, str]
"""Credentials for one registry, as Docker's API takes them: ``username``, ``password``
and ``serveraddress``. ``None`` in their place lets the engine's client use its own
login (``~/.docker/config.json``)."""


class Engine(Protocol):
    """One engine (a Docker host, a Swarm cluster) that runs an environment."""

    name: str

    def ping(self) -> str:
        """The engine's version; raises EngineUnreachable when nothing answers."""
        ...

    def build(self, request: BuildRequest, progress: ProgressFn) -> str:
        """Build an image; returns its immutable ID (``sha256:...``). Raises BuildError."""
        ...

    def observe(self, environment: str) -> ActualState:
        """What runs for ``environment``, read back from Dockyard's labels."""
        ...

    def ensure_network(self, desired: DesiredState) -> None: ...

    def ensure_volume(self, desired: DesiredState, volume: str) -> None: ...

    def start_task(
        self, desired: DesiredState, service: ServiceDef, replica: int, release: str
    ) -> ActualTask:
        """Create and start one replica's containers (main first, then sidecars)."""
        ...

    def wait_ready(self, task: ActualTask, timeout: float, progress: ProgressFn) -> None:
        """Wait until the task runs and its main container is healthy (or has no
        check). Raises DeployError with the failing container's last log lines."""
        ...

    def check_task(self, task: ActualTask) -> None:
        """Raise DeployError (with the last log lines) when a task that was ready has
        failed since: a container exited or restarted, or the main turned unhealthy."""
        ...

    def remove_task(self, task: ActualTask) -> None:
        """Stop (SIGTERM, grace, SIGKILL) and remove a task's containers, sidecars first."""
        ...

    def remove_network(self, desired_or_env: str) -> None: ...

    def remove_volume(self, volume: str) -> None: ...

    def logs(self, container_id: str, tail: int = 20) -> str: ...

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        """Run ``argv`` in the running container ``container_id`` (no terminal, no
        input) and return its exit code and its output (stdout and stderr together).
        For short commands: the engine's operation timeout bounds the wait."""
        ...

    # Images. A reference is an image ID, ``repository:tag`` or
    # ``repository@sha256:...``. Registry refusals raise the errors of
    # :mod:`dockyard.build.errors`: RegistryAuthError for credentials,
    # NotInRegistry for an unknown tag or digest, RegistryError otherwise.

    def image_present(self, ref: str) -> bool:
        """Whether the engine has the image ``ref`` locally."""
        ...

    def image_id(self, ref: str) -> str | None:
        """The ID (``sha256:...``) of the local image ``ref``; None when the engine lacks it."""
        ...

    def pull(self, ref: str, auth: RegistryAuth | None, progress: ProgressFn) -> None:
        """Pull ``ref`` from its registry, by digest (``repository@sha256:...``) or tag."""
        ...

    def tag(self, image: str, repository: str, tag: str) -> None:
        """Name the local image ``image`` (ID or reference) ``repository:tag``."""
        ...

    def push(
        self, repository: str, tag: str, auth: RegistryAuth | None, progress: ProgressFn
    ) -> str:
        """Push the local ``repository:tag``; returns the digest of the manifest the
        registry stored (``sha256:...``)."""
        ...

    def remove_images(self, selection: ImageSelection) -> list[RemovedImage]:
        """Remove the local images (or names of them) ``selection`` picks; never from a
        registry. An image a container uses (running or not) is left, with a note
        naming the container."""
        ...

    # One-off tasks.

    def run_oneoff(
        self, desired: DesiredState, task: OneOffDef, release: str, output: ProgressFn
    ) -> OneOffResult:
        """Run ``task`` in a container of its own on the environment's network (so it
        reaches accessories and services by name), pass every output line to
        ``output`` as it comes, kill it when ``task.timeout`` passes, remove the
        container, and return how it ended. Interrupting the caller (KeyboardInterrupt)
        kills and removes the container too."""
        ...

    def remove_oneoffs(self, environment: str, deploy_only: bool = False) -> list[str]:
        """Remove the one-off task containers of ``environment`` that a killed run left
        behind (with ``deploy_only``, not those of manual runs, which may be in use);
        returns their names."""
        ...
