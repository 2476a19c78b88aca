"""YAML with locations: data, locations, duplicates and syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import Location, SpecError, SpecErrors
from dockyard.spec.yamlsource import parse_yaml

FILE = Path("spec.yaml")

TEXT = """\
service: api
containers:
  api:
    ports:
      - {name: http, port: 8000}
    env: {A: "1"}
"""


def at(line: int, column: int) -> Location:
    return Location(FILE, line, column)


def test_data_and_locations() -> None:
    data, source = parse_yaml(TEXT, FILE)
    assert data == {
        "service": "api",
        "containers": {"api": {"ports": [{"name": "http", "port": 8000}], "env": {"A": "1"}}},
    }
    assert source(("service",)) == at(1, 10)  # a scalar: its value
    assert source(("containers", "api")) == at(3, 3)  # a mapping entry: its key
    assert source(("containers", "api", "ports", 0)) == at(5, 9)  # a list item
    assert source(("containers", "api", "ports", 0, "port")) == at(5, 28)
    assert source.locate(("containers", "api", "ports", 0, "port"), key=True) == at(5, 22)
    assert source(("containers", "api", "env", "A")) == at(6, 14)


def test_missing_path_falls_back_to_parent() -> None:
    _, source = parse_yaml(TEXT, FILE)
    assert source(("containers", "api", "health", "port")) == at(3, 3)
    assert source(("containers", "api", "ports", 3)) == at(4, 5)
    assert source(("nothing",)) == at(1, 1)


def test_source_text_of_scalars() -> None:
    _, source = parse_yaml("restart: no\n", FILE)
    assert source.text(("restart",)) == "no"


def test_duplicate_keys_are_located_at_the_second() -> None:
    with pytest.raises(SpecErrors) as info:
        parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", FILE)
    errors = info.value.errors
    assert [(e.code, e.location) for e in errors] == [("DY107", at(4, 3)), ("DY107", at(5, 1))]
    assert "line 3" in (errors[0].hint or "")


def test_merge_keys_are_not_duplicates() -> None:
    data, source = parse_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", FILE)
    assert data == {"base": {"x": 1, "y": 2}, "c": {"x": 1, "y": 3}}
    assert source(("c", "y")) == at(4, 6)


@pytest.mark.parametrize(
    ("text", "line", "column", "hint"),
    [
        ("a: b: c\n", 1, 5, "quote a value"),
        ("a:\n\t- x\n", 2, 1, "spaces"),
        ("a: 'x\n", 1, 6, "not closed"),
        ("a: [1,\n", 1, 7, "not closed"),
        ("a: 1\n---\nb: 2\n", 2, 1, "one YAML document"),
        ("a: !custom x\n", 1, 4, "remove the tag"),
    ],
)
def test_syntax_errors(text: str, line: int, column: int, hint: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_yaml(text, FILE)
    assert info.value.code == "DY101"
    assert info.value.location == at(line, column)
    assert hint in (info.value.hint or "")


def test_empty_file() -> None:
    with pytest.raises(SpecError) as info:
        parse_yaml("# only a comment\n", FILE)
    assert info.value.code == "DY101"
    assert "empty" in info.value.message
    assert parse_yaml("", FILE, allow_empty=True)[0] is None


def test_complex_keys_and_recursive_aliases() -> None:
    with pytest.raises(SpecError, match="plain value"):
        parse_yaml("? [a]\n: 1\n", FILE)
    with pytest.raises(SpecError, match="contains it"):
        parse_yaml("a: &x [*x]\n", FILE)
