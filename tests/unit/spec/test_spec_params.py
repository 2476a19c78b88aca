"""Parameters: type checks and ${name} interpolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.spec.models import ParamDecl, check_param
from dockyard.spec.params import ValueLayer, interpolate, resolve
from dockyard.spec.yamlsource import parse_yaml

FILE = Path("dockyard.yaml")


@pytest.mark.parametrize(
    ("value", "declared", "result"),
    [
        (3, "int", 3),
        ("3", "int", None),
        (True, "int", None),
        (3, "float", 3.0),
        (0.5, "float", 0.5),
        (True, "bool", True),
        (1, "bool", None),
        ("x", "str", "x"),
        (1.5, "str", None),
    ],
)
def test_check_param(value: object, declared: str, result: object) -> None:
    got = check_param(value, declared)  # type: ignore[arg-type]
    assert got == result
    assert type(got) is type(result)


def test_declared_type_defaults_to_the_type_of_the_default() -> None:
    assert ParamDecl.model_validate({"default": 3}).type == "int"
    assert ParamDecl.model_validate({"default": "x"}).type == "str"
    assert ParamDecl.model_validate({}).type == "str"
    assert ParamDecl.model_validate({"type": "float", "default": 1}).default == 1.0


def _interpolate(value: object, **values: str | int | float | bool) -> object:
    _, source = parse_yaml("x: 0\n", FILE)
    result, errors = interpolate({"x": value}, values, source, unknown_hint="declare it")
    assert errors == []
    assert isinstance(result, dict)
    return result["x"]


def test_whole_reference_is_typed() -> None:
    assert _interpolate("${n}", n=3) == 3
    assert _interpolate("${b}", b=False) is False
    assert _interpolate("${f}", f=0.5) == 0.5


def test_reference_in_text() -> None:
    assert _interpolate("a-${n}-${b}", n=3, b=True) == "a-3-true"
    assert _interpolate(["${s}", {"k": "${s}!"}], s="v") == ["v", {"k": "v!"}]


def test_escape_and_plain_dollars() -> None:
    assert _interpolate("$${n}", n=3) == "${n}"
    assert _interpolate("$HOME and $$ and $${n} and ${n}", n=3) == "$HOME and $$ and ${n} and 3"


def test_params_block_is_not_interpolated() -> None:
    data, source = parse_yaml("params: {a: {default: '${a}'}}\nb: '${a}'\n", FILE)
    result, errors = interpolate(data, {"a": 1}, source, unknown_hint="")
    assert errors == []
    assert result == {"params": {"a": {"default": "${a}"}}, "b": 1}


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("x: '${nme}'\n", "unknown parameter `${nme}`", "did you mean `${name}`?"),
        ("x: 'a ${zzz} b'\n", "unknown parameter `${zzz}`", "declare it; known: `name`"),
        ("x: '${name'\n", "without a closing", "$${"),
        ("x: '${na me}'\n", "not a parameter reference", "letters"),
    ],
)
def test_interpolation_errors(text: str, message: str, hint: str) -> None:
    data, source = parse_yaml(text, FILE)
    _, errors = interpolate(data, {"name": "v"}, source, unknown_hint="declare it")
    assert len(errors) == 1
    assert errors[0].code == "DY105"
    assert message in errors[0].message
    assert hint in (errors[0].hint or "")
    assert errors[0].location is not None
    assert (errors[0].location.line, errors[0].location.column) == (1, 4)


def test_unresolved_declared_names_are_left_alone() -> None:
    data, source = parse_yaml("x: '${a}'\n", FILE)
    result, errors = interpolate(data, {}, source, unresolved={"a"}, unknown_hint="")
    assert errors == []
    assert result == {"x": "${a}"}


def test_precedence_and_strictness() -> None:
    spec, spec_source = parse_yaml(
        "params:\n  a: {default: 1}\n  b: {default: 1}\n  c: {default: 1}\n", FILE
    )
    env, env_source = parse_yaml("params: {b: 2, c: 2, other: x}\n", Path("env.yaml"))
    file, file_source = parse_yaml("c: 3\n", Path("params/local.yaml"))
    decls = {k: ParamDecl.model_validate(v) for k, v in spec["params"].items()}  # type: ignore[index]
    layers = [
        ValueLayer(env["params"], env_source, prefix=("params",), strict=False),  # type: ignore[index]
        ValueLayer(file, file_source),  # type: ignore[arg-type]
    ]
    values, errors = resolve(
        decls, spec_source, layers, environment="local", params_file="p", service="api"
    )
    assert errors == []
    assert values == {"a": 1, "b": 2, "c": 3}
