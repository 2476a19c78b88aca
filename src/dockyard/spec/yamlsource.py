"""YAML with locations.

:func:`load_yaml` reads a YAML file into plain Python data (dicts, lists and
scalars) and a :class:`SourceMap` that knows where every node came from, so
that any later error can name the file, line and column of the value at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dockyard.errors import Location, SpecError, SpecErrors
from dockyard.spec import codes
from dockyard.spec.hints import KeyPath, path_part
from dockyard.spec.limits import BoundedLoader, read_spec_text

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class _Entry:
    key: Location | None  # the key of a mapping entry; None for items and the root
    value: Location
    collection: bool  # the value is a mapping or a list
    text: str | None  # the source text of a scalar value


class SourceMap:
    """Where each node of one YAML file is, by key path.

    Calling it (the :data:`~dockyard.spec.loaded.Locator` protocol) gives the
    location of the deepest existing node of a path: the value of a scalar,
    the key of a mapping entry whose value is a mapping or a list.
    """

    def __init__(self, file: Path, entries: dict[KeyPath, _Entry]) -> None:
        self.file = file
        self._entries = entries

    def __call__(self, path: KeyPath) -> Location:
        return self.locate(path)

    def deepest(self, path: KeyPath) -> KeyPath:
        """The longest prefix of ``path`` that names a node of the file."""
        path = tuple(path)
        while path and path not in self._entries:
            path = path[:-1]
        return path

    def exists(self, path: KeyPath) -> bool:
        return tuple(path) in self._entries

    def locate(self, path: KeyPath, *, key: bool = False) -> Location:
        """Location of ``path`` (or its deepest existing parent).

        ``key=True`` points at the key of a mapping entry even for a scalar
        value, as for an unknown key.
        """
        entry = self._entries.get(self.deepest(path))
        if entry is None:
            return Location(self.file, 1, 1)
        if entry.key is not None and (key or entry.collection):
            return entry.key
        return entry.value

    def text(self, path: KeyPath) -> str | None:
        """The source text of a scalar at ``path`` (``no`` for a value read as false)."""
        entry = self._entries.get(tuple(path))
        return entry.text if entry else None


def load_yaml(path: Path, *, allow_empty: bool = False) -> tuple[object, SourceMap]:
    """Read ``path``; raise :class:`SpecError` or :class:`SpecErrors` when it is invalid.

    An empty file (or one holding only comments) is an error unless
    ``allow_empty``, in which case it reads as ``None``. The bounds of
    :mod:`dockyard.spec.limits` apply: size, text, aliases, depth.
    """
    try:
        text = read_spec_text(path)
    except OSError as exc:
        raise SpecError(
            f"cannot read {path}: {exc.strerror}",
            location=Location(path, 1, 1),
            code=codes.SOURCE_NOT_FOUND,
        ) from None
    return parse_yaml(text, path, allow_empty=allow_empty)


def parse_yaml(text: str, file: Path, *, allow_empty: bool = False) -> tuple[object, SourceMap]:
    """Like :func:`load_yaml` for text already read; ``file`` names it in errors."""
    try:
        loader = BoundedLoader(text, file)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, file, text) from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _syntax_error(exc, file, text) from None
        if root is None:
            if allow_empty:
                return None, SourceMap(file, {})
            raise SpecError(
                f"{file.name} is empty",
                hint="a spec file is a YAML mapping; see docs/spec.md for an example",
                location=Location(file, 1, 1),
                code=codes.YAML_SYNTAX,
            )
        walker = _Walker(loader, file)
        data = walker.walk(root, ())
        if walker.errors:
            raise SpecErrors(sorted(walker.errors, key=_position))
        return data, SourceMap(file, walker.entries)
    finally:
        loader.dispose()


def _location(file: Path, node: Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    """Turns composed YAML nodes into data, recording each node's location."""

    def __init__(self, loader: BoundedLoader, file: Path) -> None:
        self.loader = loader
        self.file = file
        self.entries: dict[KeyPath, _Entry] = {}
        self.errors: list[SpecError] = []
        self._stack: set[int] = set()
        self._nul: set[int] = set()

    def walk(self, node: Node, path: KeyPath, key: Node | None = None) -> object:
        self.entries[path] = _Entry(
            key=_location(self.file, key) if key is not None else None,
            value=_location(self.file, node),
            collection=not isinstance(node, ScalarNode),
            text=node.value if isinstance(node, ScalarNode) else None,
        )
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self._stack:
            raise self._error(node, "a YAML alias refers to a node that contains it")
        self._stack.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise self._error(node, f"YAML tag {node.tag} is not supported")
                return [self.walk(item, (*path, i)) for i, item in enumerate(node.value)]
            raise self._error(node, "unexpected YAML node")
        finally:
            self._stack.discard(id(node))

    def _scalar(self, node: ScalarNode) -> object:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise _syntax_error(exc, self.file) from None
        if isinstance(value, str) and "\0" in value and id(node) not in self._nul:
            self._nul.add(id(node))  # an alias repeats the node: report it once
            self.errors.append(
                SpecError(
                    "a NUL byte (`\\0`) in a value: the engine cannot pass it on",
                    hint="remove the `\\0` escape; no argument, variable or label can hold it",
                    location=_location(self.file, node),
                    code=codes.NUL_BYTE,
                )
            )
        return value

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[object, object]:
        if node.tag != _MAP_TAG:
            raise self._error(node, f"YAML tag {node.tag} is not supported")
        seen: dict[object, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node)
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.errors.append(
                    SpecError(
                        f"duplicate key `{key}`",
                        hint=f"`{key}` is already set on line {first}; keep one of them",
                        location=_location(self.file, key_node),
                        code=codes.DUPLICATE_KEY,
                    )
                )
            seen[key] = key_node
        try:
            self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        except yaml.YAMLError as exc:
            raise _syntax_error(exc, self.file) from None
        result: dict[object, object] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            result[key] = self.walk(value_node, (*path, path_part(key)), key_node)
        return result

    def _key(self, node: Node) -> object:
        if not isinstance(node, ScalarNode):
            raise self._error(node, "a mapping key must be a plain value, not a list or mapping")
        return self._scalar(node)

    def _error(self, node: Node, message: str) -> SpecError:
        return SpecError(message, location=_location(self.file, node), code=codes.YAML_SYNTAX)


_HINTS = (
    ("found character '\\t'", "indent with spaces; YAML does not allow tabs"),
    ("mapping values are not allowed", "quote a value that contains `: `, or fix the indentation"),
    ("could not find expected ':'", "a key needs a `:` after it; check the indentation"),
    ("expected <block end>", "this line is indented differently from the lines around it"),
    ("found undefined alias", "define the anchor (`&name`) before using `*name`"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("but found '<stream end>'", "a quote or bracket is not closed"),
    ("could not determine a constructor", "remove the tag; spec files use plain YAML values"),
    ("while scanning a quoted scalar", "a quoted string is not closed"),
    ("expected a single document", "a spec file holds one YAML document; remove the `---`"),
    ("found character '@'", "quote values that start with `@` or a backquote"),
    ("found character '`'", "quote values that start with `@` or a backquote"),
)


def _syntax_error(exc: yaml.YAMLError, file: Path, source: str = "") -> SpecError:
    line, column = 1, 1
    problem = str(exc)
    code = codes.YAML_SYNTAX
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
        problem = (exc.problem or exc.context or "invalid YAML").removeprefix("but ")
        if exc.context and exc.problem:
            problem += f" ({exc.context}"
            if exc.context_mark is not None:
                problem += f" that starts on line {exc.context_mark.line + 1}"
            problem += ")"
    elif isinstance(exc, yaml.reader.ReaderError):
        before = source[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        problem = "the file contains a control character YAML does not allow"
        code = codes.NOT_TEXT
    lines = source.splitlines()
    if lines and line > len(lines):
        # The parser ran off the end of the file: point at the end of the last line.
        line, column = len(lines), len(lines[-1]) + 1
    text = str(exc)
    hint = next(
        (h for needle, h in _HINTS if needle in text),
        "check the indentation and the quoting on this line and the one before",
    )
    if (
        isinstance(exc, yaml.MarkedYAMLError)
        and exc.context_mark is not None
        and (exc.context or "").startswith("while parsing a flow")
    ):
        hint = (
            f"a `[` or `{{` opened on line {exc.context_mark.line + 1} is not closed, "
            "or a value inside it needs quotes"
        )
    if code == codes.NOT_TEXT:
        return SpecError(
            problem,
            hint="a spec file is plain text; remove the character, or write it as an escape "
            'in a double-quoted string ("\\t")',
            location=Location(file, line, column),
            code=code,
        )
    return SpecError(
        f"YAML syntax error: {problem}",
        hint=hint,
        location=Location(file, line, column),
        code=code,
    )


def _position(error: SpecError) -> tuple[int, int]:
    return (error.location.line, error.location.column) if error.location else (0, 0)
