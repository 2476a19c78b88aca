"""The values engines take and return, shared by the protocols beside this module.

They are plain frozen dataclasses: what one engine call needs or reports, with
nothing of a driver in them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from dockyard.errors import SecretsError
from dockyard.plan.model import SecretDef

ProgressFn = Callable[[str], None]
"""Receives one line of progress (build output, a state change)."""

RegistryAuth = dict[str, str]
"""Credentials for one registry, as Docker's API takes them: ``username``, ``password``
and ``serveraddress``. ``None`` in their place lets the engine's client use its own
login (``~/.docker/config.json``)."""


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


SecretKey = tuple[str, str, str]
"""A secret's value is found by its scope, name and version (``SecretDef``)."""


class SecretValues:
    """The plaintext of the secrets a deploy delivers, in this process's memory only.

    Nothing shows a value: ``repr`` and ``str`` say how many there are, and there
    is no way to list them. An engine asks for each by its definition."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[SecretKey, bytes] | None = None) -> None:
        self._values = dict(values or {})

    def value(self, secret: SecretDef) -> bytes:
        """The value of ``secret``; an error naming it (never its value) when this
        deploy could not read that version."""
        try:
            return self._values[(secret.scope, secret.name, secret.version)]
        except KeyError:
            where = f"{secret.scope}'s secrets" if secret.scope else "the shared secrets"
            raise SecretsError(
                f"the value of secret {secret.name} (version {secret.version}) in {where} "
                "was not read for this deploy",
                hint="it may have been removed from the secrets file since the release "
                "that uses it; set it again with `dockyard secrets set`",
            ) from None

    def __len__(self) -> int:
        return len(self._values)

    def __or__(self, other: SecretValues) -> SecretValues:
        return SecretValues({**self._values, **other._values})

    def __repr__(self) -> str:
        return f"<{len(self._values)} secret values>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("secret values are not pickled")


NO_SECRETS = SecretValues()


@dataclass(frozen=True)
class LogSource:
    """One container whose output ``dockyard logs`` reads, as its labels describe it.

    ``kind`` is ``service``, ``accessory`` or ``task`` (a one-off task, whose
    ``container`` is the task's name); ``replica`` is None for one-off tasks."""

    id: str
    name: str  # the engine's name of the container
    service: str
    kind: str
    container: str  # its name within its task (a one-off: the task's name)
    role: str  # main | sidecar | task
    replica: int | None = None


class LogLine(NamedTuple):
    """One line a container wrote: when (the engine's timestamp, nanoseconds since
    the epoch), on which stream, and the text without its newline. A named tuple,
    not a dataclass: one is made for every line read, and this is the cheapest."""

    time: int
    stream: str  # stdout | stderr
    text: str


@dataclass(frozen=True)
class LogWindow:
    """Which lines of a container's log to read: written at or after ``since``, at
    or before ``until`` (nanoseconds since the epoch), the last ``tail`` of them."""

    since: int | None = None
    until: int | None = None
    tail: int | None = None


@dataclass(frozen=True)
class LogDriverInfo:
    """How a container's output is kept: the engine's log driver and its options,
    and whether the engine also keeps the lines where it can read them back."""

    driver: str
    options: dict[str, str] = field(default_factory=dict)
    readable: bool = True
