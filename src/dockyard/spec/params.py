"""Parameters and ``${name}`` interpolation.

A service declares typed parameters under ``params:``. Their values come, in
increasing precedence, from the declared default, the environment file's
``params:`` (only for parameters the service declares) and the service's
``params/<env>.yaml``. Interpolation then replaces ``${name}`` in every string
of the spec: a string that is exactly ``${name}`` becomes the typed value, a
longer string gets the value as text, and ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from dockyard.errors import SpecError
from dockyard.spec import codes
from dockyard.spec.hints import KeyPath, closest, describe, did_you_mean, path_part
from dockyard.spec.limits import MAX_TEXT, size_text
from dockyard.spec.models import PARAM_NAME_PATTERN, ParamDecl, ParamValue, check_param
from dockyard.spec.translate import validate_model
from dockyard.spec.yamlsource import SourceMap

_REF = re.compile(r"\$\$\{|\$\{([^}]*)(\})?")
_EXACT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(PARAM_NAME_PATTERN)
_TYPE_NAMES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false"}


@dataclass(frozen=True)
class ValueLayer:
    """One layer of parameter values and where they were written."""

    values: Mapping[str, object] | Mapping[object, object]
    source: SourceMap
    prefix: KeyPath = ()  # ("params",) in an environment file, () in a params file
    strict: bool = True  # every key must be a declared parameter


def parse_declarations(
    raw: object, source: SourceMap
) -> tuple[dict[str, ParamDecl], set[str], list[SpecError]]:
    """The valid declarations of a spec's ``params:`` block.

    Also returns every declared name (valid or not), so that a reference to a
    parameter whose declaration is broken is not reported a second time.
    """
    decls: dict[str, ParamDecl] = {}
    names: set[str] = set()
    errors: list[SpecError] = []
    if not isinstance(raw, dict):
        return decls, names, errors  # the model reports the wrong type
    for name, body in raw.items():
        if not isinstance(name, str):
            continue
        names.add(name)
        decl, errs = validate_model(ParamDecl, body, source, prefix=("params", name))
        errors += errs
        if decl is not None and _NAME.match(name):
            decls[name] = decl
    return decls, names, errors


def resolve(
    decls: Mapping[str, ParamDecl],
    source: SourceMap,
    layers: Sequence[ValueLayer],
    *,
    environment: str,
    params_file: str,
    service: str,
) -> tuple[dict[str, ParamValue], list[SpecError]]:
    """The value of each declared parameter, with one error per problem."""
    values: dict[str, ParamValue] = {
        name: decl.default for name, decl in decls.items() if decl.default is not None
    }
    failed: set[str] = set()
    errors: list[SpecError] = []
    for layer in layers:
        for key, raw in layer.values.items():
            where = (*layer.prefix, path_part(key))
            decl = decls.get(key) if isinstance(key, str) else None
            if decl is None:
                if layer.strict:
                    errors.append(_unknown_key(str(key), decls, layer, where))
                continue
            typed = check_param(raw, decl.type)
            if typed is None:
                failed.add(str(key))
                errors.append(_ill_typed(str(key), raw, decl, layer, where, source, service))
            else:
                values[str(key)] = typed
    for name in decls:
        if name not in values and name not in failed:
            errors.append(
                SpecError(
                    f"missing parameter `{name}`: it has no default and no value "
                    f"for environment `{environment}`",
                    hint=f"add `{name}: <value>` to {params_file}, or give it a default here",
                    location=source.locate(("params", name), key=True),
                    code=codes.MISSING_PARAM,
                )
            )
    return values, errors


def _unknown_key(
    key: str, decls: Mapping[str, ParamDecl], layer: ValueLayer, where: KeyPath
) -> SpecError:
    if closest(key, decls) is not None:
        hint = did_you_mean(key, decls)
    else:
        hint = "declare it under `params:` in the service spec, or remove it"
        if decls:
            hint += "; declared: " + ", ".join(f"`{d}`" for d in sorted(decls))
    return SpecError(
        f"unknown parameter `{key}`: the service declares no such parameter",
        hint=hint,
        location=layer.source.locate(where, key=True),
        code=codes.UNKNOWN_KEY,
    )


def _ill_typed(
    key: str,
    raw: object,
    decl: ParamDecl,
    layer: ValueLayer,
    where: KeyPath,
    source: SourceMap,
    service: str,
) -> SpecError:
    text = layer.source.text(where)
    if isinstance(raw, str) and check_param(_yaml_scalar(raw), decl.type) is not None:
        hint = f"remove the quotes: {raw}"
    elif decl.type == "str" and text is not None and not isinstance(raw, dict | list):
        hint = f'write it in quotes: "{text}"'
    else:
        hint = f"give {_TYPE_NAMES[decl.type]}"
    declared_at = source.locate(("params", key), key=True)
    owner = "" if layer.strict else f" for service `{service}`"
    return SpecError(
        f"parameter `{key}` must be {_TYPE_NAMES[decl.type]}{owner}, found {describe(raw)}",
        hint=f"{hint} (`{key}` is declared with type {decl.type} at {declared_at})",
        location=layer.source.locate(where),
        code=codes.WRONG_VALUE,
    )


def _yaml_scalar(text: str) -> object:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def as_text(value: ParamValue) -> str:
    """A value as it reads inside a longer string: ``true``, ``3``, ``0.5``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def interpolate(
    data: object,
    values: Mapping[str, ParamValue],
    source: SourceMap,
    *,
    unresolved: Collection[str] = (),
    unknown_hint: str,
    skip: KeyPath = ("params",),
) -> tuple[object, list[SpecError]]:
    """``data`` with every ``${name}`` replaced; the errors of unknown names.

    ``unresolved`` names are declared but have no value (already reported):
    their references are left as written. ``skip`` is not interpolated.
    """
    errors: list[SpecError] = []
    expanded = 0  # characters of parameter values put into strings so far

    def walk(node: object, path: KeyPath) -> object:
        if path == skip:
            return node
        if isinstance(node, dict):
            return {k: walk(v, (*path, path_part(k))) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        if isinstance(node, str) and "$" in node:
            return _string(node, path)
        return node

    def fail(message: str, hint: str, path: KeyPath) -> None:
        errors.append(
            SpecError(message, hint=hint, location=source.locate(path), code=codes.UNKNOWN_PARAM)
        )

    def unknown(name: str, path: KeyPath) -> None:
        known = [*values, *unresolved]
        if closest(name, known) is not None:
            hint = did_you_mean(name, known, fmt="`${{{}}}`")
        else:
            hint = unknown_hint
            if known:
                hint += "; known: " + ", ".join(f"`{k}`" for k in sorted(set(known)))
        fail(f"unknown parameter `${{{name}}}`", hint, path)

    def _string(text: str, path: KeyPath) -> object:
        nonlocal expanded
        exact = _EXACT.fullmatch(text)
        if exact and exact.group(1) in values:
            return values[exact.group(1)]
        out: list[str] = []
        pos = 0
        for match in _REF.finditer(text):
            out.append(text[pos : match.start()])
            pos = match.end()
            name, closed = match.group(1), match.group(2)
            if match.group(0) == "$${":
                out.append("${")
            elif closed is None:
                fail(
                    f"`${{` without a closing `}}` in {text!r}",
                    "close the reference with `}`, or write `$${` for a literal `${`",
                    path,
                )
                out.append(match.group(0))
            elif not _NAME.match(name):
                fail(
                    f"`${{{name}}}` is not a parameter reference",
                    "parameter names are letters, digits and `_`; write `$${` for a literal `${`",
                    path,
                )
                out.append(match.group(0))
            elif name in values:
                value = as_text(values[name])
                expanded += len(value)
                if expanded > MAX_TEXT:
                    if expanded - len(value) <= MAX_TEXT:  # the first reference past it
                        errors.append(
                            SpecError(
                                f"parameter references expand to more than "
                                f"{size_text(MAX_TEXT)} of text (at `${{{name}}}`)",
                                hint="a parameter is for short values; put large data in a "
                                "file or a volume",
                                location=source.locate(path),
                                code=codes.ALIAS_EXPANSION,
                            )
                        )
                    out.append(match.group(0))
                    continue
                out.append(value)
            else:
                if name not in unresolved:
                    unknown(name, path)
                out.append(match.group(0))
        out.append(text[pos:])
        return "".join(out)

    return walk(data, ()), errors
