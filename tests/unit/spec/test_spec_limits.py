"""The bounds of spec files, at and just past each one (docs/spec.md, "Limits")."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import Location, SpecError, SpecErrors
from dockyard.spec import load_environment
from dockyard.spec.limits import MAX_ALIASES, MAX_DEPTH, MAX_NODES
from dockyard.spec.yamlsource import parse_yaml

pytestmark = pytest.mark.fault

FILE = Path("spec.yaml")


def nested(levels: int) -> str:
    """A document whose lists nest ``levels`` deep, the root mapping included."""
    inner = levels - 1
    return "x: " + "[" * inner + "]" * inner + "\n"


def refused(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_yaml(text, FILE)
    return info.value


def test_nesting_up_to_the_bound_loads() -> None:
    data, _ = parse_yaml(nested(MAX_DEPTH), FILE)
    assert isinstance(data, dict)


def test_nesting_past_the_bound_is_refused_at_the_node() -> None:
    error = refused(nested(MAX_DEPTH + 1))
    assert error.code == "DY122"
    assert error.location == Location(FILE, 1, 4 + MAX_DEPTH - 1)


def test_an_alias_counts_as_deep_as_what_it_names() -> None:
    half = MAX_DEPTH // 2
    text = "a: &a " + "[" * half + "]" * half + "\nb: " + "[" * half + "*a" + "]" * half + "\n"
    error = refused(text)
    assert error.code == "DY122"
    assert error.location == Location(FILE, 2, 4 + half)


def test_aliases_up_to_the_bound_load() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * MAX_ALIASES) + "]\n"
    data, _ = parse_yaml(text, FILE)
    assert isinstance(data, dict) and len(data["b"]) == MAX_ALIASES


def test_one_alias_too_many_is_refused_at_that_alias() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    error = refused(text)
    assert error.code == "DY121"
    assert error.location == Location(FILE, 2, 5 + 4 * MAX_ALIASES)


def test_aliases_of_aliases_count_as_expanded() -> None:
    # 10 lists of 1,000 items each named 11 times: few aliases, many nodes
    items = ", ".join(["1"] * 1000)
    text = f"a: &a [{items}]\nb: [" + ", ".join(["*a"] * (MAX_NODES // 1000)) + "]\n"
    error = refused(text)
    assert error.code == "DY121"
    assert "100,000 YAML nodes" in error.message


def test_merge_keys_and_ordinary_anchors_still_load() -> None:
    text = "base: &base {image: debian, user: app}\napi:\n  <<: *base\n  user: root\n"
    data, source = parse_yaml(text, FILE)
    assert data == {
        "base": {"image": "debian", "user": "app"},
        "api": {"image": "debian", "user": "root"},
    }
    assert source(("api", "user")) == Location(FILE, 4, 9)


def test_a_nul_escape_is_refused_once_however_often_it_is_aliased() -> None:
    with pytest.raises(SpecErrors) as info:
        parse_yaml('a: &a "x\\0"\nb: [*a, *a]\n', FILE)
    assert [(e.code, e.location) for e in info.value.errors] == [("DY124", Location(FILE, 1, 4))]


def test_parameter_references_expand_within_the_text_bound(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "local.yaml").write_text(
        f'params:\n  big: "{"x" * 500_000}"\nservices:\n  - {{name: api, source: ../api}}\n'
    )
    (tmp_path / "api").mkdir()
    refs = "${big}" * 20  # 10 MB once expanded
    (tmp_path / "api" / "dockyard.yaml").write_text(
        "service: api\nparams: {big: {type: str}}\n"
        f'containers:\n  api:\n    image: debian\n    command: [run, "{refs}"]\n'
    )
    with pytest.raises(SpecErrors) as info:
        load_environment(tmp_path, "local")
    (error,) = info.value.errors
    assert error.code == "DY121" and "parameter references" in error.message
    assert error.location == Location(tmp_path / "api" / "dockyard.yaml", 6, 20)


def test_a_file_of_too_many_plain_nodes_is_refused_at_the_first_past_the_bound() -> None:
    text = "x: [" + ",".join(["1"] * MAX_NODES) + "]\n"  # with the root, x and the list
    error = refused(text)
    assert error.code == "DY121"
    assert error.message == f"the file holds more than {MAX_NODES:,} YAML nodes"
    assert error.location is not None and error.location.line == 1
    assert "at most" in (error.hint or "")
