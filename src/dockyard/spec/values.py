"""Checks of the values an environment passes to the engine, each error located.

What the engine or the kernel would refuse later, halfway through a release,
is refused when the spec is loaded: environment variable and build argument
names that are not names (a ``=`` or a newline would silently change another
variable), arguments and variables longer than ``exec`` takes, a container's
environment and arguments that together are too long, a memory limit below
Docker's minimum, and labels that are too long or hold control characters.
NUL bytes are refused when the YAML is read (:mod:`dockyard.spec.yamlsource`).
The bounds are in :mod:`dockyard.spec.limits`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from dockyard.errors import SpecError
from dockyard.spec import codes
from dockyard.spec.environment import EnvironmentSpec
from dockyard.spec.hints import KeyPath, dotted
from dockyard.spec.limits import (
    MAX_ARG_BYTES,
    MAX_EXEC_BYTES,
    MAX_LABEL_KEY,
    MAX_LABEL_VALUE,
    MIN_MEMORY,
    size_text,
)
from dockyard.spec.models import Container, ImageBuild, Resources, ServiceSpec
from dockyard.spec.yamlsource import SourceMap

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_values(
    env: EnvironmentSpec, env_source: SourceMap, services: Sequence[tuple[ServiceSpec, SourceMap]]
) -> list[SpecError]:
    """Every value of the environment file and its services the engine would refuse."""
    checks = _Checks()
    checks.labels(env.labels, env_source)
    for name, acc in env.accessories.items():
        checks.container(acc, env_source, ("accessories", name))
        if acc.build is not None:
            checks.build_args(acc.build, env_source, ("accessories", name, "build"))
    for spec, source in services:
        if spec.image is not None:
            checks.build_args(spec.image, source, ("image",))
        for cname, container in spec.containers.items():
            checks.container(container, source, ("containers", cname))
        for tname, task in spec.tasks.items():
            at: KeyPath = ("tasks", tname)
            base = spec.containers.get(task.container or spec.main)
            checks.env(task.env, source, (*at, "env"))
            checks.args(task.command, source, (*at, "command"))
            checks.memory(task.resources, source, (*at, "resources", "memory"))
            entrypoint = base.entrypoint if base is not None else None
            inherited = base.env if base is not None else {}
            checks.total(
                f"task `{tname}`",
                {**inherited, **task.env},
                [*(entrypoint or []), *task.command],
                source,
                at,
            )
    return checks.errors


def _shown(text: str, limit: int = 40) -> str:
    """``text`` for a message: control characters escaped, long text cut short."""
    escaped = text.encode("unicode_escape").decode("ascii").replace("`", "\\`")
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


def _entry_bytes(name: str, value: str) -> int:
    """Bytes ``NAME=value`` takes in a process's environment, NUL terminator included."""
    return len(name.encode()) + 1 + len(value.encode()) + 1


class _Checks:
    def __init__(self) -> None:
        self.errors: list[SpecError] = []

    def _fail(
        self,
        code: str,
        message: str,
        hint: str,
        source: SourceMap,
        path: KeyPath,
        *,
        key: bool = False,
    ) -> None:
        location = source.locate(path, key=key)
        self.errors.append(SpecError(message, hint=hint, location=location, code=code))

    def container(self, c: Container, source: SourceMap, at: KeyPath) -> None:
        self.env(c.env, source, (*at, "env"))
        self.args(c.entrypoint, source, (*at, "entrypoint"))
        self.args(c.command, source, (*at, "command"))
        if c.health is not None:
            self.args(c.health.command, source, (*at, "health", "command"))
        self.memory(c.resources, source, (*at, "resources", "memory"))
        argv = [*(c.entrypoint or []), *(c.command or [])]
        self.total(f"container `{at[-1]}`", c.env, argv, source, at)

    def env(self, env: Mapping[str, str], source: SourceMap, at: KeyPath) -> None:
        self.names(env, source, at, "environment variable")
        for name, value in env.items():
            size = _entry_bytes(name, value)
            if size > MAX_ARG_BYTES:
                self._fail(
                    codes.TOO_LONG,
                    f"`{dotted((*at, name))}` is {size:,} bytes long; a variable takes at most "
                    f"{size_text(MAX_ARG_BYTES)} (the kernel's limit for one string)",
                    "pass large data in a file or a volume, not in a variable",
                    source,
                    (*at, name),
                )

    def names(self, names: Mapping[str, str], source: SourceMap, at: KeyPath, what: str) -> None:
        for name in names:
            if ENV_NAME.fullmatch(name) or "\0" in name:  # a NUL is reported when read
                continue
            why = ""
            if "=" in name:
                why = "; the `=` would end the name and make the rest part of the value"
            elif _CONTROL.search(name):
                why = "; it holds a control character (a newline would start another variable)"
            self._fail(
                codes.ENV_NAME,
                f"`{_shown(name)}` in `{dotted(at)}` is not a valid {what} name{why}",
                "a name is letters, digits and `_`, not starting with a digit",
                source,
                (*at, name),
                key=True,
            )

    def args(self, args: Sequence[str] | None, source: SourceMap, at: KeyPath) -> None:
        for i, arg in enumerate(args or []):
            size = len(arg.encode()) + 1
            if size > MAX_ARG_BYTES:
                self._fail(
                    codes.TOO_LONG,
                    f"`{dotted((*at, i))}` is {size:,} bytes long; an argument takes at most "
                    f"{size_text(MAX_ARG_BYTES)} (the kernel's limit for one string)",
                    "pass large data in a file or a volume, not as an argument",
                    source,
                    (*at, i),
                )

    def total(
        self,
        what: str,
        env: Mapping[str, str],
        argv: Sequence[str],
        source: SourceMap,
        at: KeyPath,
    ) -> None:
        size = sum(_entry_bytes(k, v) for k, v in env.items())
        size += sum(len(a.encode()) + 1 for a in argv)
        if size > MAX_EXEC_BYTES:
            self._fail(
                codes.TOO_LONG,
                f"the environment and arguments of {what} take {size:,} bytes, more than "
                f"{size_text(MAX_EXEC_BYTES)}",
                "pass large data in a file or a volume, not in variables or arguments",
                source,
                (*at, "env") if env else at,
                key=True,
            )

    def memory(self, resources: Resources | None, source: SourceMap, at: KeyPath) -> None:
        memory = resources.memory if resources is not None else None
        if memory is not None and memory < MIN_MEMORY:
            self._fail(
                codes.MEMORY_TOO_LOW,
                f"`{dotted(at)}` is {memory:,} bytes; Docker's smallest memory limit is "
                f"{size_text(MIN_MEMORY)}",
                "write a size such as 64m or 256m (a bare number is bytes), or leave "
                "`memory` out for no limit",
                source,
                at,
            )

    def build_args(self, build: ImageBuild, source: SourceMap, at: KeyPath) -> None:
        args_at = (*at, "args")
        self.names(build.args, source, args_at, "build argument")
        for name, value in build.args.items():
            size = _entry_bytes(name, value)
            if size > MAX_ARG_BYTES:
                self._fail(
                    codes.TOO_LONG,
                    f"`{dotted((*args_at, name))}` is {size:,} bytes long; a build argument "
                    f"takes at most {size_text(MAX_ARG_BYTES)}",
                    "put large data in a file of the build context instead",
                    source,
                    (*args_at, name),
                )

    def labels(self, labels: Mapping[str, str], source: SourceMap) -> None:
        for key, value in labels.items():
            if _CONTROL.search(key) and "\0" not in key:
                self._fail(
                    codes.BAD_LABEL,
                    f"label key `{_shown(key)}` holds a control character",
                    "a label key is letters, digits, `.`, `/` and `-`, on one line",
                    source,
                    ("labels", key),
                    key=True,
                )
            elif len(key) > MAX_LABEL_KEY:
                self._fail(
                    codes.BAD_LABEL,
                    f"label key `{_shown(key)}` is {len(key)} characters long; a key takes "
                    f"at most {MAX_LABEL_KEY}",
                    "use a shorter key, such as a reverse-DNS name",
                    source,
                    ("labels", key),
                    key=True,
                )
            if "\0" in value:
                continue  # reported when read
            if _CONTROL.search(value):
                self._fail(
                    codes.BAD_LABEL,
                    f"the value of label `{_shown(key)}` holds a control character",
                    "a label value is one line of text; remove newlines, tabs and escapes",
                    source,
                    ("labels", key),
                )
            elif len(value.encode()) > MAX_LABEL_VALUE:
                self._fail(
                    codes.BAD_LABEL,
                    f"the value of label `{_shown(key)}` is {len(value.encode()):,} bytes; "
                    f"a label value takes at most {size_text(MAX_LABEL_VALUE)}",
                    "keep labels short: they are copied onto every object",
                    source,
                    ("labels", key),
                )
