"""Bounds on spec files and on the values they pass to the engine.

Spec files come from many hands. A file that is too big, binary, nested too
deep or full of YAML aliases that expand exponentially ("billion laughs") is
refused before it can use much memory or time, with an error that names the
place; so is a value the engine or the kernel would refuse later, halfway
through a release. docs/spec.md, "Limits", lists every bound with its code.

:func:`read_spec_text` reads a file within the size bound and checks that it
is text; :class:`BoundedLoader` composes YAML while counting nodes, aliases
and depth as the aliases expand, and stops at the first bound it passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dockyard.errors import Location, SpecError
from dockyard.spec import codes

KIB = 1024
MIB = 1024 * KIB

MAX_FILE_BYTES = 1 * MIB
"""Largest spec, params or environment file; checked before parsing."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists, counted with aliases expanded."""
MAX_ALIASES = 10_000
"""Most alias references (``*name``) in one file."""
MAX_NODES = 100_000
"""Most nodes (mappings, lists, scalars) in one file with its aliases expanded."""
MAX_TEXT = 4 * MIB
"""Most characters of scalar text in one file with its aliases expanded."""

MAX_ARG_BYTES = 128 * KIB
"""Longest single argument or ``NAME=value`` environment entry, NUL terminator
included: Linux's MAX_ARG_STRLEN (131072 bytes); a longer one fails ``exec``."""
MAX_EXEC_BYTES = 1 * MIB
"""Most bytes of environment and arguments (entrypoint and command) of one container."""
MIN_MEMORY = 6 * MIB
"""Docker's smallest memory limit for a container."""
MAX_LABEL_KEY = 255
"""Longest label key, in characters."""
MAX_LABEL_VALUE = 4 * KIB
"""Longest label value, in bytes."""


class _Mark(Protocol):
    """Where PyYAML saw an event: 0-based line and column."""

    line: int
    column: int


def size_text(n: int) -> str:
    """A byte count as the limits are written: ``1 MiB``, ``128 KiB``, or bytes."""
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    if n >= KIB and n % KIB == 0:
        return f"{n // KIB} KiB"
    return f"{n} bytes"


def _position(data: bytes, at: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``at`` of ``data``."""
    start = data.rfind(b"\n", 0, at) + 1
    line = data.count(b"\n", 0, at) + 1
    column = len(data[start:at].decode("utf-8", errors="replace")) + 1
    return line, column


def read_spec_text(path: Path) -> str:
    """The text of ``path``, read within :data:`MAX_FILE_BYTES`.

    Raises :class:`SpecError` for a larger file (DY119, before anything is
    parsed), and for one that holds a NUL byte or is not UTF-8 (DY120, located
    at the first offending byte). :class:`OSError` is the caller's to handle.
    """
    with path.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        try:
            size = f"{path.stat().st_size:,} bytes"
        except OSError:
            size = "more"
        raise SpecError(
            f"{path.name} is larger than {size_text(MAX_FILE_BYTES)} ({size})",
            hint=f"a spec file holds at most {size_text(MAX_FILE_BYTES)}; "
            "check that this is the right file",
            location=Location(path, 1, 1),
            code=codes.FILE_TOO_LARGE,
        )
    nul = data.find(b"\0")
    if nul >= 0:
        line, column = _position(data, nul)
        raise SpecError(
            f"{path.name} contains a NUL byte: it is binary, not a spec file",
            hint="a spec file is UTF-8 text; check that this is the right file",
            location=Location(path, line, column),
            code=codes.NOT_TEXT,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise SpecError(
            f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})",
            hint="save the file as UTF-8",
            location=Location(path, line, column),
            code=codes.NOT_TEXT,
        ) from None


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with a composer that keeps count as it composes.

    Every node composed counts once; an alias counts as many nodes (and as much
    text, and as deep) as the node it names, expanded. The composer recurses
    once per level of nesting, so refusing what is deeper than
    :data:`MAX_DEPTH` also keeps the recursion shallow.
    """

    def __init__(self, text: str, file: Path) -> None:
        super().__init__(text)
        self.file = file
        self._depth = 0  # open mappings and lists around the node being composed
        self._nodes = 0
        self._text = 0
        self._aliases = 0
        self._sizes: dict[int, tuple[int, int, int]] = {}  # id -> (nodes, text, height)

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            if node is not None:
                self._alias(node, event.start_mark)
            return node
        collection = isinstance(event, CollectionStartEvent)
        if collection:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise self._refuse(
                    codes.TOO_DEEP,
                    f"mappings and lists are nested more than {MAX_DEPTH} levels deep",
                    f"a spec file nests at most {MAX_DEPTH} levels",
                    event.start_mark,
                )
        nodes, text = self._nodes, self._text
        self._count(1, len(event.value) if isinstance(event, ScalarEvent) else 0, event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            if collection:
                self._depth -= 1
        if node is not None:
            self._sizes[id(node)] = (self._nodes - nodes, self._text - text, _height(node, self))
        return node

    def height(self, node: Node) -> int:
        """Levels of nesting of a composed node, its aliases expanded (0 for a scalar)."""
        size = self._sizes.get(id(node))
        return size[2] if size is not None else 0

    def _alias(self, node: Node, mark: _Mark | None) -> None:
        self._aliases += 1
        if self._aliases > MAX_ALIASES:
            raise self._refuse(
                codes.ALIAS_EXPANSION,
                f"more than {MAX_ALIASES:,} YAML aliases",
                "write the values out, or use fewer `*name` references",
                mark,
            )
        size = self._sizes.get(id(node))
        if size is None:
            return  # an alias inside the node it names: reported as a cycle later
        nodes, text, height = size
        if self._depth + height > MAX_DEPTH:
            raise self._refuse(
                codes.TOO_DEEP,
                f"this alias nests mappings and lists more than {MAX_DEPTH} levels deep",
                f"a spec file nests at most {MAX_DEPTH} levels, aliases expanded",
                mark,
            )
        self._count(nodes, text, mark, alias=True)

    def _count(self, nodes: int, text: int, at: _Mark | None, *, alias: bool = False) -> None:
        self._nodes += nodes
        self._text += text
        if self._nodes > MAX_NODES:
            raise self._refuse(
                codes.ALIAS_EXPANSION,
                f"the file expands to more than {MAX_NODES:,} YAML nodes at this alias"
                if alias
                else f"the file holds more than {MAX_NODES:,} YAML nodes",
                "YAML aliases (`*name`) that refer to aliases multiply; write the values out"
                if alias or self._aliases
                else f"a spec file holds at most {MAX_NODES:,} keys, items and values",
                at,
            )
        if self._text > MAX_TEXT:
            raise self._refuse(
                codes.ALIAS_EXPANSION,
                f"the file expands to more than {size_text(MAX_TEXT)} of text"
                + (" at this alias" if alias else ""),
                "YAML aliases (`*name`) repeat their text each time; write the values out",
                at,
            )

    def _refuse(self, code: str, message: str, hint: str, mark: _Mark | None) -> SpecError:
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return SpecError(message, hint=hint, location=Location(self.file, line, column), code=code)


def _height(node: Node, loader: BoundedLoader) -> int:
    if isinstance(node, ScalarNode):
        return 0
    if isinstance(node, SequenceNode):
        children: list[Node] = list(node.value)
    elif isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        return 0
    return 1 + max((loader.height(c) for c in children), default=0)
