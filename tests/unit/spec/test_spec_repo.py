"""Finding the environment repo, its environments, and the JSON Schema."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from dockyard.errors import RepoError
from dockyard.spec import environment_names, find_repo, json_schema
from dockyard.spec.codes import DESCRIPTIONS

CASES = Path(__file__).parent / "cases"
VALID = CASES / "valid"
DOCS = Path(__file__).parents[3] / "docs" / "spec.md"


def test_find_repo_walks_up() -> None:
    assert find_repo(VALID) == VALID.absolute()
    assert find_repo(VALID / "services" / "api" / "params") == VALID.absolute()
    assert find_repo(VALID / "services" / "api" / "dockyard.yaml") == VALID.absolute()


def test_find_repo_fails_outside_a_repo(tmp_path: Path) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    with pytest.raises(RepoError) as info:
        find_repo(tmp_path / "deep" / "er")
    assert info.value.code == "DY201"
    assert "-C DIR" in (info.value.hint or "")


def test_environment_names(tmp_path: Path) -> None:
    assert environment_names(tmp_path) == []
    folder = tmp_path / "environments"
    folder.mkdir()
    for name in ("staging.yaml", "local.yaml", "prod.yaml", "notes.txt"):
        (folder / name).write_text("environment: x\n")
    (folder / "old.yaml").mkdir()
    assert environment_names(tmp_path) == ["local", "prod", "staging"]


def _spec_files() -> list[Path]:
    return [
        VALID / "environments" / "local.yaml",
        VALID / "services" / "api" / "dockyard.yaml",
        VALID / "services" / "worker" / "dockyard.yaml",
    ]


def test_json_schema_structure() -> None:
    schema = json_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    defs = schema["$defs"]
    assert isinstance(defs, dict)
    assert {"ServiceSpec", "EnvironmentSpec", "Container", "Port"} <= defs.keys()
    assert schema["then"] == {"$ref": "#/$defs/ServiceSpec"}
    assert schema["else"] == {"$ref": "#/$defs/EnvironmentSpec"}
    assert json_schema("service")["$ref"] == "#/$defs/ServiceSpec"
    assert json_schema("environment")["$ref"] == "#/$defs/EnvironmentSpec"
    assert json_schema("params")["type"] == "object"


def test_json_schema_validates_spec_files() -> None:
    validator = jsonschema.Draft7Validator(json_schema())
    validator.check_schema(validator.schema)
    for path in _spec_files():
        data = yaml.safe_load(path.read_text())
        assert list(validator.iter_errors(data)) == [], path
    params = yaml.safe_load((VALID / "services" / "api" / "params" / "local.yaml").read_text())
    assert list(jsonschema.Draft7Validator(json_schema("params")).iter_errors(params)) == []


@pytest.mark.parametrize(
    "case", ["unknown-key", "wrong-type", "missing-key", "bad-container-name", "literal-typo"]
)
def test_json_schema_rejects_invalid_specs(case: str) -> None:
    validator = jsonschema.Draft7Validator(json_schema())
    data = yaml.safe_load((CASES / case / "services" / "api" / "dockyard.yaml").read_text())
    assert list(validator.iter_errors(data)) != []


def test_docs_list_every_error_code() -> None:
    table = dict(re.findall(r"^\| (DY\d{3}) \| (.+?) \|", DOCS.read_text(), re.MULTILINE))
    assert table.keys() == DESCRIPTIONS.keys()
