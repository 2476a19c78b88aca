"""Pydantic validation errors, translated into located :class:`SpecError` values.

Pydantic reports each error with a ``loc`` tuple of field names and indexes;
these follow the YAML document's key paths, so the :class:`SourceMap` of the
file can name the line and column. Everything a user sees is rewritten here:
what was found, what was expected, and a hint on how to fix it.
"""

from __future__ import annotations

import re
import types
from typing import Annotated, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dockyard.errors import SpecError
from dockyard.spec import codes
from dockyard.spec.hints import (
    KeyPath,
    closest,
    describe,
    did_you_mean,
    dotted,
    is_scalar,
    path_part,
)
from dockyard.spec.models import NAME_PATTERN, PARAM_NAME_PATTERN
from dockyard.spec.yamlsource import SourceMap

M = TypeVar("M", bound=BaseModel)

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "none_required": "no value",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least {}"),
    "greater_than": ("gt", "more than {}"),
    "less_than_equal": ("le", "at most {}"),
    "less_than": ("lt", "less than {}"),
}
_PATTERNS = {
    NAME_PATTERN: "a name of lowercase letters, digits and `-`, starting with a letter "
    "(at most 41 characters)",
    PARAM_NAME_PATTERN: "a parameter name of letters, digits and `_`, not starting with a digit",
}
_STRINGISH = {"a string", "one of"}


def validate_model(
    model: type[M], data: object, source: SourceMap, *, prefix: KeyPath = ()
) -> tuple[M | None, list[SpecError]]:
    """Validate ``data`` (found at ``prefix`` in ``source``) as ``model``.

    Validation is strict: YAML already gives values their types, so ``"3"``
    is not an integer and ``yes`` in quotes is not a boolean.
    """
    try:
        return model.model_validate(data, strict=True), []
    except ValidationError as exc:
        return None, translate(exc, data, source, model, prefix=prefix)


def translate(
    exc: ValidationError,
    data: object,
    source: SourceMap,
    model: type[BaseModel],
    *,
    prefix: KeyPath = (),
) -> list[SpecError]:
    """One located :class:`SpecError` per problem pydantic found in ``data``."""
    groups: dict[tuple[KeyPath, bool], list[ErrorDetails]] = {}
    errors: list[SpecError] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "dockyard":
            loc += tuple((err.get("ctx") or {}).get("at", ()))
        inner, rest = _split(data, loc)
        path = (*prefix, *inner)
        if err["type"] == "missing" and rest:
            errors.append(_missing(source, path, str(rest[0])))
        elif err["type"] == "extra_forbidden":
            errors.append(_extra(source, path, model, loc))
        else:
            groups.setdefault((path, "[key]" in rest), []).append(err)
    for (path, is_key), errs in groups.items():
        errors.append(_wrong(source, path, is_key, errs))
    return sorted(
        errors, key=lambda e: (e.location.line, e.location.column) if e.location else (0, 0)
    )


def _split(data: object, loc: tuple[str | int, ...]) -> tuple[KeyPath, KeyPath]:
    """Split ``loc`` into the part that names nodes of ``data`` and the rest."""
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            continue
        return tuple(path_part(p) for p in loc[:i]), tuple(loc[i:])
    return tuple(path_part(p) for p in loc), ()


def _where(path: KeyPath) -> str:
    return f"`{dotted(path)}`" if path else "the file"


def _in(path: KeyPath) -> str:
    return f" in `{dotted(path)}`" if path else " at the top level"


def _missing(source: SourceMap, path: KeyPath, key: str) -> SpecError:
    return SpecError(
        f"missing required key `{key}`{_in(path)}",
        hint=f"add `{key}:`{_in(path)}",
        location=source.locate(path),
        code=codes.MISSING_KEY,
    )


def _extra(
    source: SourceMap,
    path: KeyPath,
    model: type[BaseModel],
    loc: tuple[str | int, ...],
) -> SpecError:
    key = str(path[-1]) if path else str(loc[-1])
    inner = _model_at(model, loc[:-1])
    allowed: list[str] = []
    if inner is not None:
        for name, field in inner.model_fields.items():
            allowed.append(field.alias or name)
    return SpecError(
        f"unknown key `{key}`{_in(path[:-1])}",
        hint=did_you_mean(key, allowed, listing="allowed keys here"),
        location=source.locate(path, key=True),
        code=codes.UNKNOWN_KEY,
    )


def _wrong(source: SourceMap, path: KeyPath, is_key: bool, errs: list[ErrorDetails]) -> SpecError:
    first = errs[0]
    found = first["input"]
    text = source.text(path)
    expected = [e for e in (_expected(err) for err in errs) if e is not None]
    hints: list[str] = []
    if is_key:
        found = path[-1] if path else found
        subject = f"key `{found}`{_in(path[:-1])}"
    else:
        subject = _where(path)
    if expected:
        wanted = _alternatives(list(dict.fromkeys(expected)))
        message = f"{subject}: expected {wanted}, found {describe(found)}"
        hints += _type_hints(wanted, found, text)
    else:
        message = _message(first)
        if path and not (is_key and first["type"] == "dockyard"):
            message = f"{subject}: {message}"
    if first["type"] == "literal_error" and isinstance(found, str):
        options = re.findall(r"'([^']*)'", str((first.get("ctx") or {}).get("expected", "")))
        match = closest(found, options)
        if match is not None:
            hints.append(f"did you mean `{match}`?")
    if first["type"] == "string_pattern_mismatch" and isinstance(found, str):
        fixed = re.sub(r"[^a-z0-9-]+", "-", found.lower()).strip("-")
        if re.match(NAME_PATTERN, fixed) and fixed != found:
            hints.append(f"for example `{fixed}`")
    if text is not None and "${" in text:
        hints.append(f"the value comes from `{text}`; check that parameter's value")
    return SpecError(
        message,
        hint="; ".join(hints) or None,
        location=source.locate(path, key=is_key),
        code=codes.WRONG_VALUE,
    )


def _alternatives(options: list[str]) -> str:
    """``a string, an integer or a list``."""
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + " or " + options[-1]


def _expected(err: ErrorDetails) -> str | None:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return _PATTERNS.get(pattern, f"text matching `{pattern}`")
    if kind in _BOUNDS:
        name, phrase = _BOUNDS[kind]
        return phrase.format(ctx.get(name))
    return None


def _message(err: ErrorDetails) -> str:
    msg = err["msg"]
    for noise in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(noise)
    return msg[:1].lower() + msg[1:] if err["type"] != "dockyard" else msg


def _type_hints(wanted: str, found: object, text: str | None) -> list[str]:
    stringish = any(wanted.startswith(s) for s in _STRINGISH)
    if stringish and is_scalar(found) and not isinstance(found, str) and text is not None:
        if isinstance(found, bool):
            return [f'YAML reads a bare `{text}` as {describe(found)}; write "{text}" in quotes']
        return [f'write it in quotes: "{text}"']
    if isinstance(found, str) and not stringish and _looks_typed(found):
        return [f"remove the quotes: {found.strip()}"]
    return []


def _looks_typed(text: str) -> bool:
    text = text.strip()
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text)) or text in ("true", "false")


def _unwrap(tp: object) -> object:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            members = [a for a in get_args(tp) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            if models:
                tp = models[0]
            elif len(members) == 1:
                tp = members[0]
            else:
                return tp
        else:
            return tp


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc`` inside ``model``."""
    tp: object = model
    for part in loc:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif origin is list:
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None
